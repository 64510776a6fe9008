"""Models as the server and the command line host them: found by name or path, loaded from a
training checkpoint or an exported TorchScript bundle, behind one interface (HostedModel).
Downstream of export: a bundle is what `flowsynth export` writes."""
