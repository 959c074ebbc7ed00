/**
 * Video files cut into clips (spec `kind: video`, see spec.ts). The files are listed like a
 * folder or manifest dataset (same ids order, labels and class rules), then each is probed with
 * ffprobe (src/video/probe.ts) to place its clips (src/video/clips.ts). sample_id = video index *
 * clips_per_video + clip index. A video that cannot be probed or is too short keeps its ids:
 * its clips become error rows at decode time (the reason known here travels in the task).
 */
import { NeurolensError } from '../errors.js';
import { DEFAULT_VIDEO_EXTENSIONS } from '../video/formats.js';
import { probeVideos, type ProbeResult } from '../video/probe.js';
import { clipStarts, type ClipPlan } from '../video/clips.js';
import type { VideoSourceSpec } from './spec.js';
import type { ClipDecodeTask, SampleRef, Source } from './types.js';
import { checkRange, type OpenOptions } from './common.js';
import { FolderSource } from './folder.js';
import { ManifestSource } from './manifest.js';

export interface VideoEntry {
  uri: string;
  label: number;
  split: string;
  probe: ProbeResult;
  /** Clip starts, or the reason the video has none. */
  starts: number[] | null;
  reason: string | null;
}

export class VideoSource implements Source {
  readonly kind = 'video' as const;
  readonly size: number;

  private constructor(
    readonly where: string,
    readonly videos: VideoEntry[],
    readonly plan: ClipPlan,
    readonly fps: number | null,
    readonly classes: string[] | null,
  ) {
    this.size = videos.length * plan.count;
  }

  static async create(spec: VideoSourceSpec, baseDir: string, opts: OpenOptions = {}): Promise<VideoSource> {
    if (spec.root === undefined && spec.manifest === undefined) {
      throw new NeurolensError('BAD_SPEC', "field 'dataset.source': a video source needs 'root' (class sub-directories of video files) or 'manifest' (uri,label[,split])");
    }
    const list = spec.manifest
      ? await ManifestSource.create({ kind: 'manifest', path: spec.manifest, root: spec.root }, baseDir, opts)
      : await FolderSource.create({ kind: 'folder', root: spec.root!, split: spec.split, extensions: spec.extensions ?? DEFAULT_VIDEO_EXTENSIONS }, baseDir, opts);
    if (spec.splits && !spec.manifest) {
      throw new NeurolensError('BAD_SPEC', "field 'dataset.source.splits': keeps manifest rows by their split column; it needs 'manifest' (with 'root' alone, 'split' names the split of every video)");
    }
    const all = list.refs(0, list.size);
    const refs = spec.splits ? all.filter((r) => spec.splits!.includes(r.split)) : all;
    if (refs.length === 0) {
      const have = [...new Set(all.map((r) => r.split || '(empty)'))].join(', ');
      throw new NeurolensError('BAD_INPUT', `video manifest ${spec.manifest}: no rows with split ${spec.splits!.join(' or ')} (splits found: ${have})`);
    }
    const plan: ClipPlan = { frames: spec.frames, stride: spec.stride, extra: opts.extraFrames ?? 0, count: spec.clips_per_video };
    const probes = await probeVideos(refs.map((r) => r.uri), spec.fps);
    const videos = refs.map((r, i): VideoEntry => {
      const p = probes[i];
      const split = spec.manifest ? r.split || spec.split || '' : r.split;
      if (!p.ok) return { uri: r.uri, label: r.label, split, probe: p, starts: null, reason: p.reason };
      const s = clipStarts(p.info.frames, plan);
      return 'starts' in s
        ? { uri: r.uri, label: r.label, split, probe: p, starts: s.starts, reason: null }
        : { uri: r.uri, label: r.label, split, probe: p, starts: null, reason: s.reason };
    });
    const where = spec.manifest ? `video manifest ${spec.manifest}` : `video folder ${spec.root}`;
    return new VideoSource(where, videos, plan, spec.fps ?? null, list.classes);
  }

  refs(start: number, end: number): SampleRef[] {
    checkRange(this.where, this.size, start, end);
    const out: SampleRef[] = [];
    for (let id = start; id < end; id++) {
      const v = this.videos[Math.floor(id / this.plan.count)];
      const j = id % this.plan.count;
      out.push({
        sampleId: id,
        uri: v.uri,
        label: v.label,
        split: v.split,
        clip: { start: v.starts ? v.starts[j] : -1, frames: this.plan.frames, stride: this.plan.stride },
      });
    }
    return out;
  }

  decodeTask(start: number, end: number): ClipDecodeTask {
    const refs = this.refs(start, end);
    return {
      kind: 'clips',
      sampleIds: Int32Array.from(refs, (r) => r.sampleId),
      uris: refs.map((r) => r.uri),
      starts: Int32Array.from(refs, (r) => r.clip!.start),
      failures: refs.map((r) => this.videos[Math.floor(r.sampleId / this.plan.count)].reason),
      frames: this.plan.frames,
      stride: this.plan.stride,
      fps: this.fps,
    };
  }
}
