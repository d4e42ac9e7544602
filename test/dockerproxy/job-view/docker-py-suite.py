"""A differential run of the Docker SDK for Python: each case prints "### <name>" and a JSON result (or
the APIError's status and message). Run on the host straight at dockerd and inside a job against its own
socket; the caller compares. Environment: SCRATCH (a directory of the job's own filesystem), M, IMG."""
import io
import json
import os
import shutil
import tarfile
import threading
import time

import docker
from docker.errors import APIError, NotFound

scratch, marker, image = os.environ['SCRATCH'], os.environ['M'], os.environ['IMG']
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch + '/a')
with open(scratch + '/a/f', 'w') as f:
    f.write('from-scratch\n')
client = docker.from_env()
api = client.api
since = int(time.time()) - 1
# Labels of this run only: other runs on the same dockerd list, prune and log their own.
app = 'py-' + marker

# The events of this run, followed from the start: dockerd keeps only its last 256 events, so a replay
# (since, until) read at the end misses the first ones when other clients are busy on the same dockerd.
# `since` covers what happens before dockerd subscribes the stream (it flushes its head first).
followed = []
following = api.events(since=since, decode=True, filters={'label': 'app=' + app, 'type': 'container'})


def _follow():
    try:
        followed.extend(following)
    except Exception:  # the stream closed at the end
        pass


threading.Thread(target=_follow, daemon=True).start()


def _tar(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _untar(chunks):
    with tarfile.open(fileobj=io.BytesIO(b''.join(chunks))) as t:
        return t.extractfile(t.getmembers()[0]).read().decode()


def case(name, fn):
    try:
        value = fn()
    except APIError as e:
        value = {'error': type(e).__name__, 'status': e.status_code, 'message': e.explanation}
    except docker.errors.DockerException as e:
        value = {'error': type(e).__name__, 'message': str(e)}
    print('### ' + name)
    print(json.dumps(value, indent=1, sort_keys=True, default=str))


def mine(items, key):
    return [i for i in items if marker in json.dumps(i.get(key))]


case('ping', lambda: api.ping())
case('version api', lambda: api.version()['ApiVersion'])
case('run with a bind of the scratch directory', lambda: client.containers.run(
    image, ['cat', '/data/f'], volumes={scratch + '/a': {'bind': '/data', 'mode': 'ro'}}, remove=True).decode())
c = client.containers.create(image, ['sleep', '120'], name=marker + '-py', labels={'app': app},
                             volumes={scratch + '/a': {'bind': '/data', 'mode': 'rw'}})
c.start()
c.reload()
case('container attrs', lambda: {k: c.attrs[k] for k in ('Name', 'Mounts', 'Config', 'HostConfig')})
case('list by label', lambda: [x.name for x in client.containers.list(filters={'label': 'app=' + app})])


def exec_run():
    # What Container.exec_run does, with the exit code read once dockerd has it: exec_run inspects as
    # soon as the output ends, and dockerd records the exit a moment later (a null exit code under load,
    # straight as through the socket).
    created = api.exec_create(c.id, ['sh', '-c', 'echo out; sleep 0.2; echo err >&2; exit 3'])
    output = api.exec_start(created['Id'])
    for _ in range(200):
        inspected = api.exec_inspect(created['Id'])
        if not inspected['Running'] and inspected['ExitCode'] is not None:
            break
        time.sleep(0.05)
    return [inspected['ExitCode'], output]


case('exec_run', exec_run)
case('put and get archive', lambda: (
    c.put_archive('/tmp', _tar('hello.txt', b'archived\n')),
    _untar(c.get_archive('/tmp/hello.txt')[0]))[1])
case('top titles', lambda: c.top()['Titles'])
case('stats keys', lambda: sorted(c.stats(stream=False).keys()))
case('rename', lambda: (c.rename(marker + '-py2'), client.containers.get(marker + '-py2').name)[1])
v = client.volumes.create(marker + '-pyvol', labels={'v': app})
case('volume attrs', lambda: {k: v.attrs[k] for k in ('Name', 'Labels', 'Options', 'Driver')})
case('volume list by label', lambda: [x.name for x in client.volumes.list(filters={'label': 'v=' + app})])
bv = client.volumes.create(marker + '-pybind', driver_opts={'type': 'none', 'o': 'bind', 'device': scratch + '/a'})
case('bind volume attrs', lambda: {k: bv.attrs[k] for k in ('Name', 'Labels', 'Options')})
n = client.networks.create(marker + '-pynet', labels={'n': app})
case('network connect', lambda: (n.connect(c), sorted(x.name for x in client.networks.get(n.id).containers))[1])
case('network attrs', lambda: {k: client.networks.get(n.id).attrs[k] for k in ('Name', 'Labels', 'Driver')})
case('network disconnect', lambda: (n.disconnect(c), client.networks.get(n.id).containers)[1])
case('build with a label', lambda: client.images.build(
    fileobj=io.BytesIO(('FROM %s\nLABEL built=py\nRUN echo built > /built\n' % image).encode()),
    tag=marker + '-pybuilt', rm=True)[0].labels)
case('commit labels', lambda: client.images.get(c.commit(repository=marker + '-pycommit').id).labels)
case('df of this run', lambda: {
    'Containers': sorted(x['Names'][0] for x in mine(api.df()['Containers'], 'Names')),
    'Volumes': sorted(x['Name'] for x in mine(api.df()['Volumes'], 'Name'))})
case('swarm leave', lambda: client.swarm.leave(force=True))
case('swarm attrs', lambda: api.inspect_swarm())
case('services list', lambda: client.services.list())
case('plugins list', lambda: client.plugins.list())
case('plugin get', lambda: client.plugins.get('nosuch'))
case('volume with an unknown driver', lambda: client.volumes.create(marker + '-drv', driver='nosuchdriver'))
case('privileged', lambda: client.containers.run(image, ['echo', 'privileged'], privileged=True, remove=True).decode())
case('host network and pid', lambda: client.containers.run(
    image, ['sh', '-c', 'readlink /proc/self/ns/net; readlink /proc/self/ns/pid'], network_mode='host', pid_mode='host', remove=True).decode())
case('sysctls and cap_add', lambda: client.containers.run(
    image, ['sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward'], sysctls={'net.ipv4.ip_forward': '1'}, cap_add=['NET_ADMIN'], remove=True).decode())
case('no such container', lambda: client.containers.get(marker + '-absent'))
c.kill()
case('wait', lambda: c.wait()['StatusCode'])
case('remove', lambda: c.remove(v=True))


def events_of_this_run():
    # The container's destroy is its last event; the stream ends once it has come.
    for _ in range(600):
        if any(e['Actor']['ID'] == c.id and e['Action'] == 'destroy' for e in followed):
            break
        time.sleep(0.05)
    following.close()
    return [(e['Type'], e['Action'], sorted(k for k in e['Actor']['Attributes'])) for e in followed if e['Actor']['ID'] == c.id]


case('events of this run', events_of_this_run)
case('prune by label', lambda: api.prune_containers(filters={'label': 'app=' + app}))
case('prune volumes by label', lambda: api.prune_volumes(filters={'label': 'v=' + app}))
case('prune networks by label', lambda: api.prune_networks(filters={'label': 'n=' + app}))
for cleanup in (lambda: v.remove(), lambda: bv.remove(), lambda: n.remove(),
                lambda: client.images.remove(marker + '-pybuilt', force=True),
                lambda: client.images.remove(marker + '-pycommit', force=True)):
    try:
        cleanup()
    except (APIError, NotFound):
        pass

