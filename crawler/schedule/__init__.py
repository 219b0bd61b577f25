"""Scheduling: the pure adaptive policy and the daemon that runs crawls on it."""
