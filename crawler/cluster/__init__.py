"""Crawls on a cluster: the Celery app over a Redis broker, the crawl task the workers run, the daemon's
side (sending due crawls and learning their outcome from the database) and the workers' overview."""
