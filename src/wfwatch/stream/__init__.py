"""Reading and writing Workflow Streams: the paced publisher and the offset reader."""
