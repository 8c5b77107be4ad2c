"""Renderers of one results list: the terminal, results.json, Markdown, rules, JUnit XML and HTML;
reading results back, merging shards, comparing runs, and the exit gates."""
