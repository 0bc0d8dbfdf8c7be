/**
 * The JSON the dashboard reads from /api/v1, as the browser sees it (src/api/views.ts and the
 * route table in src/api/routes.ts make it). Only the fields the page uses are listed.
 */
import type { TimelineEntry } from '../../events/boot-timeline.js';
import type { BootEvent } from '../../events/boot-event.js';

export type NodeStatus = 'offline' | 'discovered' | 'dhcp' | 'loading' | 'initramfs' | 'booted' | 'failed';

export interface EventRefView {
  seq: number;
  time: number;
  kind: string;
  name: string;
  detail: string;
}

export interface NodeSummaryView {
  mac: string;
  known: boolean;
  hostname?: string | null;
  address?: string | null;
  profile?: string;
  status: NodeStatus;
  stage: string | null;
  cause: string | null;
  ip: string | null;
  bootCount: number;
  bootStartedAt: number | null;
  booted: { image?: string; version?: string; at: number } | null;
  lastEvent: EventRefView | null;
}

export interface NodeDetailView extends NodeSummaryView {
  image: { name: string; version: string } | null;
  failure: { stage: string; cause: string } | null;
  timeline: TimelineEntry[];
}

export interface ImageVersionView {
  version: string;
  created: string;
  kernelVersion: string | null;
  size: number;
  published: boolean;
  nodes: string[];
}

export interface ImageView {
  name: string;
  published: string | null;
  publishedAt: string | null;
  versions: ImageVersionView[];
}

export interface ProfileView {
  name: string;
  image: string | null;
}

export type BootEventView = BootEvent;
export type { TimelineEntry };
