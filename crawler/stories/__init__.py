"""Stories: fingerprints of texts (pure), and the assignment of articles to stories (reads and writes storage)."""
