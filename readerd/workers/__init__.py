"""Worker processes: extraction and the offline analysis, under time and memory limits."""
