"""The CDK stacks of the engine: DataStack, QueueStack, ApiStack, ProcessorStack."""
