"""Pure relevance: the topic profile, its scorer, building the profile from seeds and evaluating it."""
