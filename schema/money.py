from decimal import Decimal

import strawberry


@strawberry.type(description="An amount of money in a currency (ISO 4217 code).")
class Money:
    amount: Decimal
    currency: str
