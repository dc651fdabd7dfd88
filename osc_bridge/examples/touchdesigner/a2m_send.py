# Art2Music OSC bridge -> TouchDesigner: send a request (run this Text DAT, or call
# generate() from a Panel/CHOP Execute DAT with op('a2m_send').module.generate(...)).
import itertools
import json

_counter = itertools.count(1)


def generate(image_path, comment, seed=0, hints=''):
    """Ask the bridge for a clip. image_path must be absolute and inside an --allow folder."""
    request_id = f'td-{next(_counter)}'
    # /a2m/generate s:request_id s:image_path s:comment [i:seed] [s:hints]
    op('oscout1').sendOSC('/a2m/generate', [request_id, image_path, comment, int(seed), hints])
    return request_id


def generate_with(image_path, comment='', **controls):
    """Every control at once, e.g. generate_with(path, 'the sky weeps', tempo=72,
    key='F# minor', instrument='harp', emotion='sadness', seed=3): the names are the a2m
    CLI's (see the bridge's README), sent as one JSON object."""
    request_id = f'td-{next(_counter)}'
    request = {'image': image_path, 'comment': comment, **controls}
    op('oscout1').sendOSC('/a2m/generate/json', [request_id, json.dumps(request)])
    return request_id


def cancel(request_id):
    op('oscout1').sendOSC('/a2m/cancel', [request_id])


def status():
    op('oscout1').sendOSC('/a2m/status', [])


# The bridge's own endless soundscape, played on the bridge machine's sound device: start it,
# queue scenes (each crossfades in when generated), stop it.
def stream_start(device=''):
    op('oscout1').sendOSC('/a2m/stream/start', [device])


def stream_next(image_path, comment, seed=0, hints=''):
    request_id = f'td-scene-{next(_counter)}'
    op('oscout1').sendOSC('/a2m/stream/next', [request_id, image_path, comment, int(seed),
                                                hints])
    return request_id


def stream_stop():
    op('oscout1').sendOSC('/a2m/stream/stop', [])


if __name__ == '__main__':  # running the DAT directly sends one example request
    generate(project.folder + '/starry-night.jpg', 'the swirling sky feels alive', 1)
