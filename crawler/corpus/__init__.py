"""The stored corpus as a whole: exporting its articles, scoring them again, processing them again from
their kept pages (reads and writes storage)."""
