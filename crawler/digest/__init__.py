"""The digest: build (reads storage), display and render (pure, with its templates), delivery (files, mail)."""
