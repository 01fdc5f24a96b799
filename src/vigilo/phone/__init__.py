"""Phone watch: finding phones in images, videos and (later) live streams."""
