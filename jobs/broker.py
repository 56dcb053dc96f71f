"""The Dramatiq broker, chosen by `RAPPORT_BROKER_URL`: Redis (`redis://`, keys prefixed with
`RAPPORT_BROKER_NAMESPACE`) or RabbitMQ (`amqp://`; separate deployments by virtual host).

Importing this module makes it Dramatiq's global broker: actors bind to a broker when they
are declared, so every actor module imports `broker` from here first.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from backend.settings import Settings, get_settings


def build(settings: Settings) -> dramatiq.Broker:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisBroker(url=settings.broker_url, namespace=settings.broker_namespace)  # type: ignore[no-untyped-call]
    return RabbitmqBroker(url=settings.broker_url)


broker = build(get_settings())
dramatiq.set_broker(broker)
