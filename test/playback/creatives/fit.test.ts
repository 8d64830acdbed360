import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { placeOnPanel, renditionPlan, videoPixelFormat, RENDITION_RECIPE } from "../../../agent/playback/creatives/fit.js";
import type { MediaInfo, RenditionProfile } from "../../../agent/playback/creatives/types.js";

const profile = (over: Partial<RenditionProfile> = {}): RenditionProfile => ({ width: 768, height: 384, fps: 30, fit: "contain", background: "#000000", audio: false, preset: "medium", recipe: RENDITION_RECIPE, ...over });
const source = (over: Partial<MediaInfo> = {}): MediaInfo => ({ kind: "video", container: "mov,mp4", videoCodec: "h264", width: 1920, height: 1080, sampleAspect: 1, rotation: 0, fps: 25, durationMs: 15_000, hasAudio: true, pixelFormat: "yuv420p", ...over });

describe("placeOnPanel", () => {
  it("contain: 1920×1080 on 768×384 fills the height and centres with side bars", () => {
    expect(placeOnPanel(source(), profile())).toEqual({ scaledWidth: 683, scaledHeight: 384, x: 42, y: 0 });
  });

  it("cover: 1920×1080 on 768×384 fills the width and crops top and bottom", () => {
    expect(placeOnPanel(source(), profile({ fit: "cover" }))).toEqual({ scaledWidth: 768, scaledHeight: 432, x: 0, y: -24 });
  });

  it("stretch ignores the aspect", () => {
    expect(placeOnPanel(source(), profile({ fit: "stretch", width: 1008, height: 144 }))).toEqual({ scaledWidth: 1008, scaledHeight: 144, x: 0, y: 0 });
  });

  it("honours non-square pixels and quarter-turn rotation", () => {
    // 720×576 at 16:15 shows as 768×576 (4:3); rotated 90° a 1920×1080 shows as 1080×1920.
    expect(placeOnPanel(source({ width: 720, height: 576, sampleAspect: 16 / 15 }), profile({ width: 400, height: 300 }))).toEqual({ scaledWidth: 400, scaledHeight: 300, x: 0, y: 0 });
    expect(placeOnPanel(source({ rotation: 90 }), profile({ width: 384, height: 768 }))).toEqual({ scaledWidth: 384, scaledHeight: 683, x: 0, y: 42 });
  });

  it("always covers exactly the panel (contain inside it, cover around it, centred)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8000 }),
        fc.integer({ min: 1, max: 8000 }),
        fc.integer({ min: 8, max: 4096 }),
        fc.integer({ min: 8, max: 4096 }),
        fc.constantFrom("contain" as const, "cover" as const),
        (w, h, pw, ph, fit) => {
          const p = placeOnPanel(source({ width: w, height: h }), profile({ width: pw, height: ph, fit }));
          if (fit === "contain") {
            expect(p.scaledWidth <= pw && p.scaledHeight <= ph).toBe(true);
            expect(p.scaledWidth === pw || p.scaledHeight === ph).toBe(true);
            expect(p.x >= 0 && p.y >= 0 && p.x + p.scaledWidth <= pw && p.y + p.scaledHeight <= ph).toBe(true);
          } else {
            expect(p.scaledWidth >= pw && p.scaledHeight >= ph).toBe(true);
            expect(p.scaledWidth === pw || p.scaledHeight === ph).toBe(true);
            expect(p.x <= 0 && p.y <= 0 && p.x + p.scaledWidth >= pw && p.y + p.scaledHeight >= ph).toBe(true);
          }
          expect(Math.abs(2 * p.x + p.scaledWidth - pw)).toBeLessThanOrEqual(1);
          expect(Math.abs(2 * p.y + p.scaledHeight - ph)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});

describe("renditionPlan", () => {
  const arg = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

  it("even panels: H.264 High 4:2:0, lanczos, panel fps, no audio by default", () => {
    const plan = renditionPlan(source(), profile());
    expect(plan.extension).toBe("mp4");
    expect(arg(plan.outputOptions, "-pix_fmt")).toBe("yuv420p");
    expect(arg(plan.outputOptions, "-profile:v")).toBe("high");
    expect(arg(plan.outputOptions, "-vf")).toMatch(/^fps=30,scale=683:384:flags=lanczos/);
    expect(arg(plan.outputOptions, "-vf")).toContain("pad=768:384:42:0:color=0x000000");
    expect(plan.outputOptions).toContain("-an");
  });

  it("odd panels: 4:4:4 so the frame stays exactly the panel's size", () => {
    expect(videoPixelFormat({ width: 1007, height: 144 })).toBe("yuv444p");
    expect(videoPixelFormat({ width: 1008, height: 143 })).toBe("yuv444p");
    const plan = renditionPlan(source(), profile({ width: 1007, height: 144 }));
    expect(arg(plan.outputOptions, "-pix_fmt")).toBe("yuv444p");
    expect(arg(plan.outputOptions, "-profile:v")).toBe("high444");
  });

  it("keeps audio only when the profile asks and the source has some", () => {
    expect(renditionPlan(source(), profile({ audio: true })).outputOptions).toContain("aac");
    expect(renditionPlan(source({ hasAudio: false }), profile({ audio: true })).outputOptions).toContain("-an");
  });

  it("stills become one PNG frame composed over the background", () => {
    const plan = renditionPlan(source({ kind: "image", durationMs: null, fps: null }), profile({ background: "#10aBcd", fit: "cover" }));
    expect(plan.extension).toBe("png");
    expect(arg(plan.outputOptions, "-filter_complex")).toContain("color=c=0x10ABCD:s=768x384");
    // cover crops the visible part before scaling, so nothing is scaled beyond the panel.
    expect(arg(plan.outputOptions, "-filter_complex")).toContain("[0:v]crop=1920:960:0:60:exact=1,scale=768:384:");
    expect(arg(plan.outputOptions, "-filter_complex")).toContain("overlay=0:0");
    expect(arg(plan.outputOptions, "-frames:v")).toBe("1");
  });

  it("no argument holds a space (fluent-ffmpeg would split it)", () => {
    for (const fit of ["contain", "cover", "stretch"] as const) {
      for (const kind of ["video", "image"] as const) {
        expect(renditionPlan(source({ kind }), profile({ fit })).outputOptions.filter((a) => a.includes(" "))).toEqual([]);
      }
    }
  });
});
