"""Stories: fingerprints of texts (pure) and the assignment of a new article to its story (takes a session)."""
