// Types of scripts/inline-descriptors.mjs (build time, plain JavaScript: build.mjs runs on Node 20).
import type { Plugin } from 'esbuild';

export function inlineFileDescriptors(source: string): string;
export function decodedExpression(b64: string): string;
export const inlineDescriptorsPlugin: Plugin;
