"""Reading the customer graph: entity metadata, the filter language and the one SQL builder.

Both read paths (the DataLoaders of the GraphQL executor and the compiled single-statement
plans) and the record scopes of access control build their SQL here, so a filter means the
same thing everywhere.
"""
