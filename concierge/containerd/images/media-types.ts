export const mediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export const isIndex = (mediaType: string): boolean =>
  mediaType === mediaTypes.ociIndex || mediaType === mediaTypes.dockerManifestList;
export const isManifest = (mediaType: string): boolean =>
  mediaType === mediaTypes.ociManifest || mediaType === mediaTypes.dockerManifest;

/** containerd's diff applier accepts these (compression decided from the media type). */
const layerTypes = new Set<string>([
  mediaTypes.dockerLayer, mediaTypes.dockerLayerGzip, mediaTypes.ociLayer, mediaTypes.ociLayerGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
export const isSupportedLayer = (mediaType: string): boolean => layerTypes.has(mediaType);
