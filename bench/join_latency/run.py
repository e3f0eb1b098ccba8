"""Join latency in Chromium: from `join` (and from `consume`) to the first decoded video frame.

    .venv/bin/python bench/join_latency/run.py [--joins 10]

Starts NATS, Redis, the MongoDB-compatible server and the services the demo page needs
(auth, meetings, media, gateway) on loopback, opens the gateway's demo page (/demo/, its
bundle runs unmodified mediasoup-client) in Debian's Chromium through Playwright with a
fake camera and microphone. A host page publishes a simulcast camera and a microphone;
then viewers join one after another, each on a fresh page, and each measures in the page
(performance.now()) from calling `join` and from sending `consume` for the camera to the
first frame its <video> presents (requestVideoFrameCallback). One warm-up join is not
counted. Prints p50 and p95 (nearest rank) against the target, then stops everything.
"""

import argparse
import asyncio
import math
import sys
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from webinar_devstack.suite import REPO_ROOT, Suite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback_suite import loopback_suite

from webinar_devstack.chromium import CHROMIUM, CHROMIUM_ARGS

DEMO_BUNDLE = REPO_ROOT / "services/gateway/gateway/static/demo/demo.js"

TARGET_CONSUME_P50_MS = 250.0
SPIKE_CONSUME_P50_MS = 190.0

PUBLISH = """async ({ apiKey, room }) => {
    const client = window.seedDemo.createClient({ apiKey, name: 'Host' });
    await client.join(room);
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 960, height: 540, frameRate: 30 } });
    const camera = await client.publish('camera', { track: stream.getVideoTracks()[0] });
    await client.publish('microphone');
    return camera.id;
}"""

# One viewer's join, timed in the page: `join` called, `consume` sent for the camera, and
# the first frame of the camera presented by a <video> (requestVideoFrameCallback).
TIMED_JOIN = """async ({ apiKey, room, name, cameraId }) => {
    const client = window.seedDemo.createClient({ apiKey, name });
    const consumeSent = {};
    const request = client.request.bind(client);
    client.request = (event, payload) => {
        if (event === 'consume') consumeSent[payload.producerId] = performance.now();
        return request(event, payload);
    };
    const firstFrame = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no video frame within 20 s')), 20000);
        client.addEventListener('consumer', ({ detail }) => {
            if (detail.producerId !== cameraId) return;
            const video = document.createElement('video');
            video.muted = true;
            video.playsInline = true;
            video.srcObject = new MediaStream([detail.track]);
            document.body.append(video);
            video.requestVideoFrameCallback((now, metadata) => {
                clearTimeout(timer);
                resolve(metadata.presentationTime ?? now);
            });
            video.play().catch(() => {});
        });
    });
    const join = performance.now();
    await client.join(room);
    const joined = performance.now();
    const frame = await firstFrame;
    return { join, joined, consume: consumeSent[cameraId], frame };
}"""


def nearest_rank(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


async def open_demo(browser: Browser, url: str) -> Page:
    context = await browser.new_context(permissions=["camera", "microphone"])
    context.set_default_timeout(30000)
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("window.seedDemo !== undefined")
    return page


async def measure(suite: Suite, joins: int) -> list[dict[str, float]]:
    demo_url = suite.url + "/demo/"
    room = "join-latency"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            host = await open_demo(browser, demo_url)
            camera_id = await host.evaluate(PUBLISH, {"apiKey": suite.api_key, "room": room})
            print(f"host publishing camera {camera_id} (960x540, 30 fps, simulcast r0/r1/r2) and microphone")
            await asyncio.sleep(2)  # the host's encoder ramps up its layers
            samples = []
            for index in range(joins + 1):
                viewer = await open_demo(browser, demo_url)
                try:
                    marks = await viewer.evaluate(
                        TIMED_JOIN,
                        {"apiKey": suite.api_key, "room": room, "name": f"Viewer {index}", "cameraId": camera_id},
                    )
                finally:
                    await viewer.context.close()
                sample = {
                    "join_to_frame": marks["frame"] - marks["join"],
                    "consume_to_frame": marks["frame"] - marks["consume"],
                    "join_to_joined": marks["joined"] - marks["join"],
                }
                label = "warm-up" if index == 0 else f"join {index:>2}"
                print(
                    f"{label}: join -> first frame {sample['join_to_frame']:6.0f} ms, "
                    f"consume -> first frame {sample['consume_to_frame']:6.0f} ms",
                    flush=True,
                )
                if index:
                    samples.append(sample)
        finally:
            await browser.close()
    return samples


def report(samples: list[dict[str, float]]) -> None:
    print()
    print(f"over {len(samples)} joins (p95 by nearest rank):")
    for key, label in (
        ("join_to_joined", "join    -> joined (signalling, transports made)"),
        ("join_to_frame", "join    -> first decoded frame"),
        ("consume_to_frame", "consume -> first decoded frame"),
    ):
        values = [sample[key] for sample in samples]
        print(f"  {label + ':':<48} p50 {nearest_rank(values, 50):6.0f} ms   p95 {nearest_rank(values, 95):6.0f} ms")
    consume_p50 = nearest_rank([sample["consume_to_frame"] for sample in samples], 50)
    verdict = "meets" if consume_p50 < TARGET_CONSUME_P50_MS else "misses"
    print(
        f"  consume -> first frame p50 {consume_p50:.0f} ms {verdict} the target "
        f"of under {TARGET_CONSUME_P50_MS:.0f} ms "
        f"(x{consume_p50 / TARGET_CONSUME_P50_MS:.2f}); the spike measured {SPIKE_CONSUME_P50_MS:.0f} ms "
        f"(x{consume_p50 / SPIKE_CONSUME_P50_MS:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--joins", type=int, default=10, help="measured joins (after one warm-up join)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs (printed path)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package")
    if not DEMO_BUNDLE.exists():
        raise SystemExit(f"{DEMO_BUNDLE.relative_to(REPO_ROOT)} is missing: `make webclient` builds it")

    with loopback_suite("join-latency", env={"MEDIA_WORKERS": "1"}, keep_logs=args.keep_logs) as suite:
        report(asyncio.run(measure(suite, args.joins)))


if __name__ == "__main__":
    main()
