/**
 * dockerode and testcontainers-node, run twice: on the host straight at dockerd, and inside a job
 * against its own socket (DOCKER_HOST unset there: /var/run/docker.sock). Prints "### <section>" lines
 * followed by JSON. Environment: SCRATCH (a directory of the job's own filesystem), M (marker), IMG.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Docker from 'dockerode';
import { GenericContainer, Wait } from 'testcontainers';

const { SCRATCH: scratch, M: marker, IMG: image } = process.env;
if (!scratch || !marker || !image) throw new Error('SCRATCH, M and IMG are required');
const section = (name: string, value: unknown) => process.stdout.write(`### ${name}\n${JSON.stringify(value, null, 1)}\n`);

rmSync(scratch, { recursive: true, force: true });
mkdirSync(`${scratch}/a`, { recursive: true });
mkdirSync(`${scratch}/site`);
writeFileSync(`${scratch}/a/f`, 'from-scratch\n');

const docker = new Docker(process.env.DOCKER_HOST ? { socketPath: process.env.DOCKER_HOST.replace(/^unix:\/\//, '') } : { socketPath: '/var/run/docker.sock' });
const since = Math.floor(Date.now() / 1000) - 1;

const volume = await docker.createVolume({ Name: `${marker}-sdk-vol`, Labels: { v: 'sdk' } });
const bindVolume = await docker.createVolume({ Name: `${marker}-sdk-bindvol`, DriverOpts: { type: 'none', o: 'bind', device: `${scratch}/site` } });
const network = await docker.createNetwork({ Name: `${marker}-sdk-net`, Labels: { n: 'sdk' } });
const container = await docker.createContainer({
  name: `${marker}-sdk`,
  Image: image,
  Cmd: ['sleep', '120'],
  Labels: { app: 'sdk' },
  HostConfig: {
    Binds: [`${scratch}/a:/data:ro`, `${marker}-sdk-vol:/vol`],
    Mounts: [
      { Type: 'bind', Source: `${scratch}/site`, Target: '/site' },
      { Type: 'volume', Source: `${marker}-sdk-bindvol`, Target: '/bindvol' },
    ],
    NetworkMode: `${marker}-sdk-net`,
  },
});
await container.start();
section('dockerode container', await container.inspect());
section('dockerode list', await docker.listContainers({ all: true, filters: { label: ['app=sdk'] } }));
section('dockerode volume', await volume.inspect());
section('dockerode bind volume', await docker.getVolume(bindVolume.name).inspect());
section('dockerode volume list', (await docker.listVolumes({ filters: { label: ['v=sdk'] } })).Volumes);
section('dockerode network', await network.inspect());
const df = (await docker.df()) as { Containers: Array<{ Names: string[] }>; Volumes: Array<{ Name: string }> };
// The host's df lists every object on dockerd; this run's objects are the ones compared.
section('dockerode df', {
  containers: df.Containers.filter((c) => c.Names.some((n) => n.includes(marker))),
  volumes: df.Volumes.filter((v) => v.Name.includes(marker)),
});
await container.remove({ force: true });
await volume.remove();
await docker.getVolume(bindVolume.name).remove();
await network.remove();
const stream = await docker.getEvents({ since, until: Math.ceil(Date.now() / 1000) + 1, filters: { label: ['app=sdk'] } });
const text = await new Promise<string>((resolve) => {
  let t = '';
  stream.on('data', (c: Buffer) => (t += c.toString()));
  stream.on('end', () => resolve(t));
});
section('dockerode events', text.split('\n').filter(Boolean).map((l) => {
  const e = JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: Record<string, string> } };
  return { type: e.Type, action: e.Action, attributes: e.Actor.Attributes };
}));

// testcontainers: a sibling with an exposed port, reached by the client.
const started = await new GenericContainer(image)
  .withName(`${marker}-tc`)
  .withLabels({ app: 'tc' })
  .withExposedPorts(8080)
  .withCommand(['sh', '-c', 'mkdir -p /www && echo reached > /www/index.html && echo started && exec httpd -f -p 8080 -h /www'])
  .withWaitStrategy(Wait.forLogMessage('started'))
  .start();
const inspected = await docker.getContainer(started.getId()).inspect();
const address = inspected.NetworkSettings.Networks.bridge?.IPAddress;
const reached = await fetch(`http://${address}:8080/index.html`).then((r) => r.text(), (e: Error) => `unreachable: ${e.message}`);
const mapped = started.getMappedPort(8080);
const viaPublished = await fetch(`http://127.0.0.1:${mapped}/index.html`, { signal: AbortSignal.timeout(2000) })
  .then((r) => r.text(), () => 'not forwarded');
section('testcontainers', { name: started.getName(), labels: started.getLabels(), reached, viaPublished, mappedIsNumber: typeof mapped === 'number' });
// What testcontainers' reaper (Ryuk) does, by a sibling that bind-mounts the docker socket: remove the
// session's containers by label. Inside a job that socket is the job's own. (Ryuk itself is off: the
// client reaches it only on a published port, which this dockerd, --userland-proxy=false --iptables=false,
// does not forward.)
const session = started.getLabels()['org.testcontainers.session-id'];
const socket = process.env.DOCKER_HOST ? process.env.DOCKER_HOST.replace(/^unix:\/\//, '') : '/var/run/docker.sock';
const reaper = await docker.createContainer({
  Image: image,
  Cmd: ['sh', '-c', `/cli/docker ps -aq --filter label=org.testcontainers.session-id=${session} | xargs /cli/docker rm -f | wc -l`],
  HostConfig: { Binds: [`${socket}:/var/run/docker.sock`, '/usr/local/bin:/cli:ro'] },
});
await reaper.start();
await reaper.wait();
const reaperOutput = (await reaper.logs({ stdout: true, stderr: true })).toString('utf8').replace(/[\s\S]{8}/y, '');
await reaper.remove();
const left = await docker.listContainers({ all: true, filters: { label: [`org.testcontainers.session-id=${session}`] } });
section('reaper', { removed: reaperOutput.replace(/[^0-9]/g, ''), left: left.length });
section('done', readFileSync(`${scratch}/a/f`, 'utf8'));
