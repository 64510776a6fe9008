"""Audio -> preset as a user gets it: candidates from the model and from a retrieval index of
the model's training sounds, refined by rendering with the synth and searching the parameters
within a time budget; pitch-aware."""
