"""Phone watch: finding phones in images, videos and live streams (sources, tracking, rules, episodes, events)."""
