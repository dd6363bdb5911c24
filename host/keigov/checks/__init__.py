"""Measured checks over a run's timeline and events: the registry (registry.py), the
geofence's kinds (zones.py) and every other kind (kinds.py)."""
