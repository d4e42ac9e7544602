// The generated files' descriptors decoded at build time, not at each boot. protoc-gen-es embeds every
// .proto file as a base64 FileDescriptorProto that fileDesc() decodes at load with protobuf-es's
// reflective decoder, for which it first builds descriptor.proto's own descriptors. Under TCG that was
// concierge's largest single piece of work while containerd starts (about 1 s of a profiled boot, 0.4 s
// of it descriptor.proto). Here the build decodes each one with protobuf-es itself and writes the
// decoded message as an expression; the bundle's fileDesc() then only registers it, as fileDesc()
// does after decoding.
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { base64Decode } from '@bufbuild/protobuf/wire';
// Not among the package's exports: the same function fileDesc() calls after decoding.
import { restoreJsonNames } from '../node_modules/@bufbuild/protobuf/dist/esm/codegenv2/restore-json-names.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const embedded = /\bfileDesc\("([A-Za-z0-9+/=]+)"/g;

const wktImport = /import\s*\{([^}]*)\}\s*from\s*"@bufbuild\/protobuf\/wkt";/g;
const wktFiles = fileURLToPath(new URL('../node_modules/@bufbuild/protobuf/dist/esm/wkt/google/protobuf/', import.meta.url));

/**
 * A generated source with each `fileDesc("<base64>"` call given the decoded message instead, and the
 * well-known files it imports taken from their own modules: the workloads' code is loaded lazily, so
 * the bundle runs a module's whole import graph, and the package's wkt index would run every
 * well-known file's descriptors (descriptor.proto's included) for the three or four the API uses.
 */
export function inlineFileDescriptors(source) {
  return source
    .replace(embedded, (_, b64) => `fileDesc(${decodedExpression(b64)}`)
    .replace(wktImport, (_, names) => names.split(',').map((n) => n.trim()).filter((n) => n !== '').map((name) => {
      const file = /^file_google_protobuf_(\w+)$/.exec(name)?.[1];
      if (file === undefined) throw new Error(`a generated file imports ${name} from @bufbuild/protobuf/wkt: only file descriptors are expected`);
      return `import { ${name} } from ${JSON.stringify(join(wktFiles, `${file}_pb.js`))};`;
    }).join('\n'));
}

/** The message fileDesc() decodes from `b64`, with the JSON names it restores, as a JavaScript expression. */
export function decodedExpression(b64) {
  const root = fromBinary(FileDescriptorProtoSchema, base64Decode(b64));
  root.messageType.forEach(restoreJsonNames);
  // protobuf-es keeps the defaults of fields with explicit presence on each message's prototype, and
  // its registry tells set fields by own properties: both are rebuilt as they are.
  const prototypes = [];
  const prototypeIndex = new Map();
  const write = (value) => {
    if (value === undefined) return 'void 0';
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value !== 'object' || value === null) return JSON.stringify(value);
    if (value instanceof Uint8Array) return `new Uint8Array(${JSON.stringify([...value])})`;
    if (Array.isArray(value)) return `[${value.map(write).join(',')}]`;
    const own = Object.keys(value).map((k) => `${JSON.stringify(k)}:${write(value[k])}`);
    const prototype = Object.getPrototypeOf(value);
    if (prototype === Object.prototype) return `{${own.join(',')}}`;
    if (Object.getPrototypeOf(prototype) !== Object.prototype) throw new Error(`${value.$typeName}: unexpected prototype chain`);
    const defaults = write({ ...prototype });
    if (!prototypeIndex.has(defaults)) prototypeIndex.set(defaults, prototypes.push(defaults) - 1);
    // `__proto__:` in a literal sets the prototype as the object is made (not an own property).
    return `{__proto__:p[${prototypeIndex.get(defaults)}],${own.join(',')}}`;
  };
  const body = write(root);
  return `((p)=>(${body}))([${prototypes.join(',')}])`;
}

// The bundle's codegenv2/file.js: fileDesc() given the decoded message, registered as protobuf-es's
// own fileDesc() registers it after decoding (its imports relative to that file).
const registeringFileDesc = `
import { createEmbeddedFileRegistry } from "../registry.js";
export function fileDesc(root, imports) {
  if (typeof root === "string") throw new Error("fileDesc: the build did not decode this descriptor (scripts/inline-descriptors.mjs)");
  root.dependency = imports?.map((f) => f.proto.name) ?? [];
  return createEmbeddedFileRegistry(root, (name) => imports?.find((f) => f.proto.name === name)).getFile(root.name);
}
`;

/** The esbuild plugin: generated files carry decoded descriptors, and fileDesc() no longer decodes. */
export const inlineDescriptorsPlugin = {
  name: 'inline-descriptors',
  setup(b) {
    b.onLoad({ filter: /[/\\]@bufbuild[/\\]protobuf[/\\]dist[/\\]esm[/\\]codegenv2[/\\]file\.js$/ }, (args) =>
      ({ contents: registeringFileDesc, resolveDir: dirname(args.path), loader: 'js' }));
    b.onLoad({ filter: /_pb\.[jt]s$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      return source.includes('fileDesc("') ? { contents: inlineFileDescriptors(source), loader: args.path.endsWith('.ts') ? 'ts' : 'js' } : undefined;
    });
  },
};
