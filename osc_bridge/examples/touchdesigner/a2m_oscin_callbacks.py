# Art2Music OSC bridge -> TouchDesigner: callbacks for an OSC In DAT.
#
# Network (see osc_bridge/README.md for the full how-to):
#   oscout1      OSC Out DAT   Network Address 127.0.0.1, Network Port 9000
#   oscin1       OSC In DAT    Network Port 9001, Callbacks DAT = this DAT
#   audiofilein1 Audio File In CHOP -> audiodevout1 (Audio Device Out CHOP)
#   a2m_status   Text DAT (optional) that shows the last message
#   note_lamp    Constant CHOP (optional): channel 'level' flashes with each note
#   a2m_notes    Table DAT (optional): pitch, velocity, duration, part of the last notes
#
# Replies arrive as: /a2m/accepted id position, /a2m/progress id stage fraction,
# /a2m/done id wav_path duration_s sample_rate, /a2m/error id message code.
# While a notes clip plays (the bridge's soundscape, or the desktop with Notes out set to
# this port): /a2m/note pitch velocity duration_s part, as each note sounds.


def onReceiveOSC(dat, rowIndex, message, byteData, timeStamp, address, args, peer):
    status = op('a2m_status')
    if address == '/a2m/progress':
        request_id, stage, fraction = args[0], args[1], args[2]
        if status is not None:
            status.text = f'{request_id}: {stage} {fraction * 100:.0f}%'
    elif address == '/a2m/done':
        request_id, wav_path = args[0], args[1]
        player = op('audiofilein1')
        player.par.file = wav_path          # the bridge writes a new file per request
        player.par.play = True
        player.par.cuepulse.pulse()         # start from the beginning
        if status is not None:
            status.text = f'{request_id}: done -> {wav_path}'
    elif address == '/a2m/note':
        pitch, velocity, duration, part = args[0], args[1], args[2], args[3]
        lamp = op('note_lamp')
        if lamp is not None:                # a lamp that lights on each note, as loud as it
            lamp.par.value0 = velocity / 127
            run("op('note_lamp').par.value0 = 0", delayFrames=max(1, int(duration * 60)))
        table = op('a2m_notes')
        if table is not None:               # or play them on your own instrument
            table.appendRow([pitch, velocity, duration, part])
            if table.numRows > 64:
                table.deleteRow(0)
    elif address == '/a2m/error':
        request_id, text, code = args[0], args[1], args[2]
        debug(f'a2m error {code} for {request_id}: {text}')
        if status is not None:
            status.text = f'{request_id}: error {code}: {text}'
    return
