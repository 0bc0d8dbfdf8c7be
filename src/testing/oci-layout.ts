import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../process/run.js';

/**
 * An OCI image layout (image-spec "Image Layout") made from plain directories, one layer each,
 * applied in order: what a container build leaves, for tests of image import. Whiteouts are
 * written as the spec names them (".wh.NAME", ".wh..wh..opq") by the caller, in the layer's
 * directory. GNU tar keeps owners, modes, hard links and user xattrs. Layers are uncompressed
 * tars (a media type every engine reads), so a large root tree costs no compression time.
 */
export async function writeOciLayout(dir: string, layers: readonly string[], tag = 'v1'): Promise<{ manifestDigest: string }> {
  const blobs = join(dir, 'blobs/sha256');
  await mkdir(blobs, { recursive: true });
  const blob = async (content: Buffer) => {
    const d = createHash('sha256').update(content).digest('hex');
    await writeFile(join(blobs, d), content);
    return { digest: `sha256:${d}`, size: content.length };
  };
  const layerDescs = [];
  const diffIds: string[] = [];
  for (const [i, layer] of layers.entries()) {
    const tmp = join(blobs, `layer-${i}.tmp`);
    await run(['tar', '--xattrs', '--xattrs-include=user.*', '--numeric-owner', '--sort=name', '-C', layer, '-cf', tmp, '.']);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(tmp)) hash.update(chunk as Buffer);
    const d = hash.digest('hex');
    await rename(tmp, join(blobs, d));
    diffIds.push(`sha256:${d}`);
    layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${d}`, size: (await stat(join(blobs, d))).size });
  }
  const config = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } })));
  const manifest = await blob(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layerDescs,
  })));
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { manifestDigest: manifest.digest };
}
