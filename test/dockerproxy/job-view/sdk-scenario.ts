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
// Labels of this run only: other runs on the same dockerd list their own.
const app = `sdk-${marker}`;
// The events of this run, followed from the start: dockerd keeps only its last 256 events, so a replay
// read at the end may have lost the first ones when other clients are busy on the same dockerd. `since`
// covers what happens before dockerd subscribes the stream (it sends its head first).
const followed: Array<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }> = [];
const following = await docker.getEvents({ since, filters: { label: [`app=${app}`] } });
let pending = '';
following.on('data', (c: Buffer) => {
  pending += c.toString();
  for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.trim() !== '') followed.push(JSON.parse(line) as (typeof followed)[number]);
  }
});

const volume = await docker.createVolume({ Name: `${marker}-sdk-vol`, Labels: { v: app } });
const bindVolume = await docker.createVolume({ Name: `${marker}-sdk-bindvol`, DriverOpts: { type: 'none', o: 'bind', device: `${scratch}/site` } });
const network = await docker.createNetwork({ Name: `${marker}-sdk-net`, Labels: { n: app } });
const container = await docker.createContainer({
  name: `${marker}-sdk`,
  Image: image,
  Cmd: ['sleep', '120'],
  Labels: { app },
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
section('dockerode list', await docker.listContainers({ all: true, filters: { label: [`app=${app}`] } }));
section('dockerode volume', await volume.inspect());
section('dockerode bind volume', await docker.getVolume(bindVolume.name).inspect());
section('dockerode volume list', (await docker.listVolumes({ filters: { label: [`v=${app}`] } })).Volumes);
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
// The container's destroy is its last event: the stream ends once it has come.
for (let i = 0; i < 600 && !followed.some((e) => e.Actor.ID === container.id && e.Action === 'destroy'); i++) await new Promise((r) => setTimeout(r, 50));
(following as unknown as { destroy(): void }).destroy();
section('dockerode events', followed.map((e) => ({ type: e.Type, action: e.Action, attributes: e.Actor.Attributes })));

// testcontainers: a sibling with an exposed port, reached by the client.
const started = await new GenericContainer(image)
  .withName(`${marker}-tc`)
  .withLabels({ app: 'tc' })
  .withExposedPorts(8080)
  // busybox httpd listens before it goes to the background: once "started" is logged, it answers.
  .withCommand(['sh', '-c', 'mkdir -p /www && echo reached > /www/index.html && httpd -p 8080 -h /www && echo started && exec sleep 600'])
  .withWaitStrategy(Wait.forLogMessage('started'))
  .start();
const inspected = await docker.getContainer(started.getId()).inspect();
const address = inspected.NetworkSettings.Networks.bridge?.IPAddress;
const reached = await fetch(`http://${address}:8080/index.html`).then((r) => r.text(), (e: Error) => `unreachable: ${e.message}`);
const mapped = started.getMappedPort(8080);
const viaPublished = await fetch(`http://127.0.0.1:${mapped}/index.html`, { signal: AbortSignal.timeout(2000) })
  .then((r) => r.text(), () => 'not forwarded');
section('testcontainers', { name: started.getName(), labels: started.getLabels(), reached, viaPublished, mappedIsNumber: typeof mapped === 'number' });
// With no reaper on this dockerd (see the test), the session removes its sibling itself.
await started.stop({ timeout: 0 });
section('done', readFileSync(`${scratch}/a/f`, 'utf8'));
