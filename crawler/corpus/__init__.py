"""The stored corpus as a whole: exporting its articles, scoring them again (reads and writes storage)."""
