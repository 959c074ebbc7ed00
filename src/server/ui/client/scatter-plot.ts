/**
 * A scatter plot for tens of thousands of points that stays smooth (the embedding view's):
 * - points are written once into an ImageData (one 32-bit store per pixel, no path per point)
 *   kept on an offscreen canvas; the visible canvas only blits it. A drag blits it shifted
 *   (cheap, every frame) and draws the points again when the drag ends; a wheel zoom draws them
 *   again at most once per animation frame.
 * - the hovered / keyboard-selected point is ringed on an overlay canvas above the plot (no
 *   pointer events), so hovering never redraws the points.
 * - the point under the pointer comes from a grid index (point-index.ts) built once in the
 *   unzoomed frame: O(1) per mouse move, mouse moves handled once per animation frame.
 * The data-to-pixel mapping of what is on screen is in data-x0, data-x1, data-y0, data-y1, data-pad
 * (canvas pixels) and data-zoom of the canvas: pixel x = pad + (x - x0) * (width - 2 pad) / (x1 - x0),
 * pixel y = height - pad - (y - y0) * (height - 2 pad) / (y1 - y0).
 * Keyboard (the canvas is focusable): arrows move to the nearest point on screen in that
 * direction, Enter opens it, + / - zoom around it, 0 resets the zoom, Escape clears.
 */
import { h } from './dom.js';
import { PointIndex } from './point-index.js';
import { extent, rasterize, rgba } from './raster.js';

export interface ScatterOptions {
  testid?: string;
  /** CSS pixels (the canvas has as many device pixels per CSS pixel as the screen). */
  size?: number;
  /** The point chosen by a click or by Enter. */
  onPick?: (i: number) => void;
}

interface Window2 {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Canvas pixels around the pointer within which a point is hovered or clicked. */
const HIT_CSS_PX = 8;
const MAX_ZOOM = 5000;

export class ScatterPlot {
  readonly el: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  /** Positioned by the plot near the active point; its content is the caller's. */
  readonly tip: HTMLElement;
  /** Called when the point under the pointer or selected with the keyboard changes (-1: none), before the tip is placed. */
  onActive: (i: number) => void = () => undefined;
  private readonly overlay: HTMLCanvasElement;
  private readonly scene: HTMLCanvasElement;
  private readonly image: ImageData;
  private readonly pix: Uint32Array;
  private readonly S: number;
  private readonly pad: number;
  private readonly dpr: number;
  private readonly base: Window2;
  private view: Window2;
  private readonly index: PointIndex;
  private colours: ArrayLike<number> = new Uint16Array(0);
  private palette = new Uint32Array([rgba('#999999')]);
  private active = -1;
  private keyed = -1;
  private pointer: { x: number; y: number } | null = null;
  private drag: { x: number; y: number; dx: number; dy: number; moved: boolean } | null = null;
  private suppressClick = false;
  private frame = 0;
  private dirty = false;
  private painted = false;

  constructor(
    private readonly xs: Float32Array,
    private readonly ys: Float32Array,
    private readonly opts: ScatterOptions = {},
  ) {
    const css = opts.size ?? 560;
    this.dpr = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
    this.S = css * this.dpr;
    this.pad = 10 * this.dpr;
    const [x0, x1] = extent(xs);
    const [y0, y1] = extent(ys);
    this.base = { x0, x1, y0, y1 };
    this.view = { ...this.base };
    this.canvas = h('canvas', {
      width: this.S,
      height: this.S,
      tabindex: 0,
      // application: screen readers pass the arrow keys through to the plot.
      role: 'application',
      'aria-roledescription': 'scatter plot',
      'data-testid': opts.testid,
      'data-points': xs.length,
      'aria-label': `${xs.length} points. Arrow keys move between points, Enter opens one, + and - zoom, 0 resets the zoom.`,
      style: `width:${css}px;height:${css}px`,
    });
    this.overlay = h('canvas', { width: this.S, height: this.S, class: 'scatter-overlay', 'aria-hidden': 'true', style: `width:${css}px;height:${css}px` });
    this.scene = h('canvas', { width: this.S, height: this.S });
    this.tip = h('div', { class: 'scatter-tip', hidden: true });
    this.el = h('div', { class: 'scatter', style: `width:${css}px` }, this.canvas, this.overlay, this.tip);
    this.image = new ImageData(this.S, this.S);
    this.pix = new Uint32Array(this.image.data.buffer);
    // The index lives in the unzoomed pixel frame; 4 device pixels per cell keeps cells small.
    const bx = new Float32Array(xs.length);
    const by = new Float32Array(xs.length);
    const inner = this.S - 2 * this.pad;
    for (let i = 0; i < xs.length; i++) {
      bx[i] = this.pad + ((xs[i]! - x0) * inner) / (x1 - x0);
      by[i] = this.S - this.pad - ((ys[i]! - y0) * inner) / (y1 - y0);
    }
    this.index = new PointIndex(bx, by, this.S, this.S, 4 * this.dpr);
    this.listen();
    this.expose();
  }

  /** Colour of each point: an index into `palette` ('#rrggbb' strings). Draws again. */
  setColours(colours: ArrayLike<number>, palette: string[]): void {
    this.colours = colours;
    this.palette = Uint32Array.from(palette, rgba);
    this.draw();
  }

  /** Back to the whole layout. */
  reset(): void {
    this.view = { ...this.base };
    this.expose();
    this.schedule();
  }

  get zoom(): number {
    return (this.base.x1 - this.base.x0) / (this.view.x1 - this.view.x0);
  }

  private scales(): { sx: number; sy: number } {
    const inner = this.S - 2 * this.pad;
    return { sx: inner / (this.view.x1 - this.view.x0), sy: inner / (this.view.y1 - this.view.y0) };
  }

  private expose(): void {
    const v = this.view;
    Object.assign(this.canvas.dataset, { x0: String(v.x0), x1: String(v.x1), y0: String(v.y0), y1: String(v.y1), pad: String(this.pad), zoom: String(this.zoom) });
  }

  /** Canvas pixel of point i in the current view. */
  pixelOf(i: number): [number, number] {
    const { sx, sy } = this.scales();
    return [this.pad + (this.xs[i]! - this.view.x0) * sx, this.S - this.pad - (this.ys[i]! - this.view.y0) * sy];
  }

  /** Canvas pixel -> the unzoomed frame of the index (zoom is uniform, so distances scale by 1/zoom). */
  private toBase(cx: number, cy: number): [number, number] {
    const { sx, sy } = this.scales();
    const inner = this.S - 2 * this.pad;
    const x = this.view.x0 + (cx - this.pad) / sx;
    const y = this.view.y0 + (this.S - this.pad - cy) / sy;
    return [this.pad + ((x - this.base.x0) * inner) / (this.base.x1 - this.base.x0), this.S - this.pad - ((y - this.base.y0) * inner) / (this.base.y1 - this.base.y0)];
  }

  /** The point nearest canvas pixel (cx, cy) within the hit radius, or -1. */
  pointAt(cx: number, cy: number): number {
    const [bx, by] = this.toBase(cx, cy);
    return this.index.nearest(bx, by, (HIT_CSS_PX * this.dpr) / this.zoom);
  }

  private onScreen(i: number): boolean {
    const [x, y] = this.pixelOf(i);
    return x >= 0 && x < this.S && y >= 0 && y < this.S;
  }

  private eventPixel(e: MouseEvent): [number, number] {
    const b = this.canvas.getBoundingClientRect();
    return [((e.clientX - b.left) * this.S) / b.width, ((e.clientY - b.top) * this.S) / b.height];
  }

  private radius(): number {
    const n = this.xs.length;
    const r = n > 20000 ? 1 : n > 2000 ? 2 : 3;
    // Points grow a little when zoomed in, so sparse regions stay visible.
    return Math.round(r * this.dpr * Math.min(3, Math.max(1, Math.sqrt(this.zoom) / 2)));
  }

  /** Writes every point into the ImageData and blits it. */
  private draw(): void {
    const t0 = performance.now();
    const { sx, sy } = this.scales();
    const { x0, y0 } = this.view;
    // pad + (x - x0) sx = (pad - x0 sx) + x sx; S - pad - (y - y0) sy = (S - pad + y0 sy) - y sy
    const m = { ox: this.pad - x0 * sx, sx, oy: this.S - this.pad + y0 * sy, sy };
    rasterize(this.pix, this.S, this.xs, this.ys, m, this.colours, this.palette, this.radius());
    this.scene.getContext('2d')!.putImageData(this.image, 0, 0);
    this.blit(0, 0);
    this.decorate();
    // The cost of drawing every point (the benchmark reads it).
    performance.measure('scatter:draw', { start: t0 });
    if (!this.painted) {
      this.painted = true;
      this.canvas.dataset.painted = 'true';
      // For the benchmark: the points are on the canvas; the next frame has them on screen.
      performance.mark('scatter:drawn');
      requestAnimationFrame(() => performance.mark('scatter:painted'));
    }
  }

  private blit(dx: number, dy: number): void {
    const ctx = this.canvas.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.S, this.S);
    ctx.drawImage(this.scene, dx, dy);
  }

  /** Draws the points again at the next animation frame (several zoom steps in one frame: one draw). */
  private schedule(): void {
    this.dirty = true;
    this.tick();
  }

  private tick(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.drag?.moved) this.blit(this.drag.dx, this.drag.dy);
      else if (this.dirty) {
        this.dirty = false;
        this.draw();
      }
      if (this.pointer && !this.drag?.moved) this.hover(this.pointer.x, this.pointer.y);
    });
  }

  /** The active point: ringed on the overlay, the tip placed next to it (or next to the pointer). */
  private setActive(i: number, near?: [number, number]): void {
    if (i !== this.active) {
      this.active = i;
      this.onActive(i);
    }
    this.decorate(near);
  }

  private decorate(near?: [number, number]): void {
    const ctx = this.overlay.getContext('2d')!;
    ctx.clearRect(0, 0, this.S, this.S);
    const i = this.active;
    if (i < 0 || this.drag?.moved) {
      this.tip.hidden = true;
      return;
    }
    const [x, y] = this.pixelOf(i);
    ctx.lineWidth = 2 * this.dpr;
    ctx.strokeStyle = '#1d2433';
    ctx.beginPath();
    ctx.arc(x, y, this.radius() + 4 * this.dpr, 0, 2 * Math.PI);
    ctx.stroke();
    this.placeTip(near ?? [x, y]);
  }

  /** Tip below-right of the spot, flipped inside the plot near its right / bottom edge (CSS px). */
  private placeTip([cx, cy]: [number, number]): void {
    this.tip.hidden = false;
    const css = this.S / this.dpr;
    const x = cx / this.dpr, y = cy / this.dpr;
    const w = this.tip.offsetWidth, hgt = this.tip.offsetHeight;
    const left = x + 14 + w > css ? Math.max(0, x - 14 - w) : x + 14;
    const top = y + 14 + hgt > css ? Math.max(0, y - 14 - hgt) : y + 14;
    this.tip.style.transform = `translate(${left}px, ${top}px)`;
  }

  private hover(cx: number, cy: number): void {
    const i = this.pointAt(cx, cy);
    if (i >= 0) this.keyed = -1;
    if (i >= 0 || this.keyed < 0) this.setActive(i, [cx, cy]);
  }

  /** Zooms by `f` about canvas pixel (cx, cy); false when already at the limit. */
  private zoomAt(cx: number, cy: number, f: number): boolean {
    const k = Math.min(MAX_ZOOM, Math.max(1, this.zoom * f)) / this.zoom;
    if (k === 1) return false;
    const { sx, sy } = this.scales();
    const dx = this.view.x0 + (cx - this.pad) / sx;
    const dy = this.view.y0 + (this.S - this.pad - cy) / sy;
    const v = this.view;
    this.view = { x0: dx - (dx - v.x0) / k, x1: dx + (v.x1 - dx) / k, y0: dy - (dy - v.y0) / k, y1: dy + (v.y1 - dy) / k };
    this.expose();
    this.schedule();
    return true;
  }

  private endDrag(): void {
    const d = this.drag;
    this.drag = null;
    if (!d?.moved) return;
    const { sx, sy } = this.scales();
    const v = this.view;
    this.view = { x0: v.x0 - d.dx / sx, x1: v.x1 - d.dx / sx, y0: v.y0 + d.dy / sy, y1: v.y1 + d.dy / sy };
    this.expose();
    this.schedule();
  }

  private key(e: KeyboardEvent): void {
    const dirs: Record<string, [number, number]> = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const dir = dirs[e.key];
    const at = (): [number, number] => (this.keyed >= 0 ? this.pixelOf(this.keyed) : [this.S / 2, this.S / 2]);
    if (dir) {
      e.preventDefault();
      const visible = (i: number) => this.onScreen(i);
      let next: number;
      if (this.keyed < 0) {
        // First key: the point nearest the middle of the view.
        const [bx, by] = this.toBase(this.S / 2, this.S / 2);
        next = this.index.nearest(bx, by, 2 * this.S, visible);
      } else next = this.index.nearestToward(this.keyed, dir[0], dir[1], visible, 2 * this.S);
      if (next >= 0) {
        this.keyed = next;
        this.setActive(next);
      }
    } else if (e.key === 'Enter' && this.keyed >= 0) {
      e.preventDefault();
      this.opts.onPick?.(this.keyed);
    } else if (e.key === '+' || e.key === '=' || e.key === '-') {
      e.preventDefault();
      void this.zoomAt(...at(), e.key === '-' ? 1 / 1.5 : 1.5);
    } else if (e.key === '0') {
      e.preventDefault();
      this.reset();
    } else if (e.key === 'Escape') {
      this.keyed = -1;
      this.setActive(-1);
    }
  }

  private listen(): void {
    const c = this.canvas;
    c.addEventListener('mousemove', (e) => {
      const [x, y] = this.eventPixel(e);
      this.pointer = { x, y };
      if (this.drag) {
        this.drag.dx = x - this.drag.x;
        this.drag.dy = y - this.drag.y;
        if (!this.drag.moved && Math.hypot(this.drag.dx, this.drag.dy) > 3 * this.dpr) {
          this.drag.moved = true;
          this.setActive(-1);
        }
      }
      this.tick();
    });
    c.addEventListener('mouseleave', () => {
      this.pointer = null;
      if (this.keyed < 0) this.setActive(-1);
    });
    c.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      this.suppressClick = false;
      const [x, y] = this.eventPixel(e);
      this.drag = { x, y, dx: 0, dy: 0, moved: false };
      // Ends the drag wherever the button is released, even outside the canvas.
      window.addEventListener('mouseup', () => {
        this.suppressClick = this.drag?.moved ?? false;
        this.endDrag();
      }, { once: true });
    });
    c.addEventListener('click', (e) => {
      if (this.suppressClick) {
        this.suppressClick = false;
        return;
      }
      const i = this.pointAt(...this.eventPixel(e));
      if (i >= 0) this.opts.onPick?.(i);
    });
    c.addEventListener(
      'wheel',
      (e) => {
        const px = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
        // At a zoom limit the wheel scrolls the page as usual.
        if (this.zoomAt(...this.eventPixel(e), Math.exp(-e.deltaY * px * 0.002))) e.preventDefault();
      },
      { passive: false },
    );
    c.addEventListener('keydown', (e) => this.key(e));
    c.addEventListener('blur', () => {
      if (this.keyed >= 0 && !this.pointer) {
        this.keyed = -1;
        this.setActive(-1);
      }
    });
  }
}
