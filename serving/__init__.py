"""`tome serve`: the voice demo (speech -> fine-tuned model -> streamed answer), and the generation API
`tome eval` reuses (`serving.generation`). See serving/README.md."""
