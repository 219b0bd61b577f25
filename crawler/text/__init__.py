"""Pure text stages: charsets, extraction, normalisation, feeds and sitemaps, links, URLs (HTML in, fields out)."""
