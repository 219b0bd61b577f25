"""The digest: build (reads storage), render (pure, with its templates), delivery (files, mail)."""
