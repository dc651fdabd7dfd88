"""What the apps share beyond the runtime: sound devices and the ``a2m`` command.

``live`` (a soundscape on an output device) and ``playback`` (the desktop's player) open
PortAudio through sounddevice; ``cli`` and ``cli_models`` are the ``a2m`` command. The
desktop app, the OSC bridge and ``a2m`` use them; ``a2m_core`` (the runtime) never does, so
it loads on a machine without a sound device or a display.
"""
