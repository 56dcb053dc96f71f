"""Casbin access control: model, default policies, enforcer, field checks, explain."""
