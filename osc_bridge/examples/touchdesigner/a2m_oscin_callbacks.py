# Art2Music OSC bridge -> TouchDesigner: callbacks for an OSC In DAT.
#
# Network (see osc_bridge/README.md for the full how-to):
#   oscout1      OSC Out DAT   Network Address 127.0.0.1, Network Port 9000
#   oscin1       OSC In DAT    Network Port 9001, Callbacks DAT = this DAT
#   audiofilein1 Audio File In CHOP -> audiodevout1 (Audio Device Out CHOP)
#   a2m_status   Text DAT (optional) that shows the last message
#
# Replies arrive as: /a2m/accepted id position, /a2m/progress id stage fraction,
# /a2m/done id wav_path duration_s sample_rate, /a2m/error id message code.


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
    elif address == '/a2m/error':
        request_id, text, code = args[0], args[1], args[2]
        debug(f'a2m error {code} for {request_id}: {text}')
        if status is not None:
            status.text = f'{request_id}: error {code}: {text}'
    return
