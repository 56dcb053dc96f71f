"""Tenant lifecycle: provisioning, and later quotas, export and erase."""
