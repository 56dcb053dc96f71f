"""Dramatiq background jobs: broker selection, actors, the scheduler."""
