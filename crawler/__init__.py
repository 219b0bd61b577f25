"""ai4s-monitor's crawler: the configuration, the sources file and the seed articles at the top; the stage
packages in pipeline order (text, relevance, stories, crawl, schedule, digest, corpus); the command line in app."""
