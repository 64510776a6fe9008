"""flowsynth bridge: steer synthesizers by sound from Ableton Live and Max."""

__version__ = "0.1.0"
