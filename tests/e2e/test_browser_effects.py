"""Media effects in Chromium (Professional): noise suppression with RNNoise and a virtual
background with MediaPipe selfie segmentation, run in the host's browser before encoding.

The host's fake microphone plays a noisy file made here: voice-like bursts (a 180 Hz
buzz with harmonics) half the time, and white plus pink noise all the time. A viewer
measures what it receives with an AnalyserNode: the level in the pauses (the quietest
tenth of 20 ms windows) must drop when RNNoise is on, against the same capture with
RNNoise bypassed, while the bursts still come through. Chromium keeps its own noise
suppression on a track captured with it (the host page captures with the defaults and
Chromium cannot turn it off on a live track), so the reference is what the browser alone
sends, and the drop is what RNNoise adds to it.

Chromium's fake camera draws a synthetic pattern with no person in it, so segmentation
finds little or no person and the blur covers most of the frame: the tests therefore
measure sharpness (edge energy) rather than the look of a person, in the host page
where the mask says background (the sent frames against the camera's), and at the
viewer (blurred frames against the same camera with the background off). A background
image (plain blue) must show in the frames the viewer decodes. Every toggle happens while
live and keeps the producer (same id) and the frames coming. An Essential organisation
is refused by the SDK and the host page goes live without effects."""

import math
import random
import secrets
import struct
import wave
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from e2e.browser import REPO_ROOT, BrowserPages, login_token, on_session_loop
from e2e.webapp import TILE_DECODED, new_context, new_webinar, open_host_page, open_viewer, screenshot, wait_true
from webinar_devstack.chromium import CHROMIUM, CHROMIUM_ARGS
from webinar_devstack.suite import Suite

EFFECT_FILES = REPO_ROOT / "services/gateway/gateway/static/demo/rnnoise-worklet.js"
pytestmark = [
    on_session_loop,
    pytest.mark.skipif(not EFFECT_FILES.exists(), reason="the web client is not built: `make webclient` builds it"),
]
RATE = 48000

# The levels (dBFS) of the received audio, one per 20 ms window, for `seconds`.
RECEIVED_LEVELS = """async ({ seconds }) => {
    const consumer = [...window.watchPage.webinar.client.consumers.values()].find((c) => c.kind === 'audio');
    const context = new AudioContext();
    await context.resume();
    const source = context.createMediaStreamSource(new MediaStream([consumer.track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const span = Math.round(context.sampleRate / 50);
    const levels = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (let i = samples.length - span; i < samples.length; i += 1) sum += samples[i] * samples[i];
        levels.push(10 * Math.log10(sum / span + 1e-12));
    }
    source.disconnect();
    await context.close();
    return levels;
}"""

# Edge energy (mean squared difference of neighbouring grey pixels, 0-255) of `video` at
# 320x180; with `mask` (a canvas, opaque where the person is), where it says background only.
# Squared: a blur spreads an edge over more pixels, which keeps the sum of the differences
# but lowers the sum of their squares.
EDGE_ENERGY_JS = """(video, mask) => {
    const width = 320, height = 180;
    const canvas = Object.assign(document.createElement('canvas'), { width, height });
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, width, height);
    const pixels = ctx.getImageData(0, 0, width, height).data;
    let alpha = null;
    if (mask) {
        ctx.clearRect(0, 0, width, height);
        ctx.drawImage(mask, 0, 0, width, height);
        alpha = ctx.getImageData(0, 0, width, height).data;
    }
    const grey = (x, y) => {
        const at = (y * width + x) * 4;
        return 0.299 * pixels[at] + 0.587 * pixels[at + 1] + 0.114 * pixels[at + 2];
    };
    let total = 0, counted = 0;
    for (let y = 0; y < height - 1; y += 1) {
        for (let x = 0; x < width - 1; x += 1) {
            if (alpha && alpha[(y * width + x) * 4 + 3] > 64) continue;
            total += (grey(x + 1, y) - grey(x, y)) ** 2 + (grey(x, y + 1) - grey(x, y)) ** 2;
            counted += 1;
        }
    }
    return { energy: counted ? total / counted : 0, share: counted / ((width - 1) * (height - 1)) };
}"""

# The viewer's camera tile: edge energy averaged over `frames` decoded frames, the share of
# clearly blue pixels, and how many frames it has decoded.
VIEWER_FRAMES = f"""async ({{ frames }}) => {{
    const edgeEnergy = {EDGE_ENERGY_JS};
    const video = document.querySelector('.tile[data-source="camera"] video');
    let energy = 0, blue = 0;
    for (let n = 0; n < frames; n += 1) {{
        await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
        energy += edgeEnergy(video, null).energy;
        const canvas = Object.assign(document.createElement('canvas'), {{ width: 160, height: 90 }});
        const ctx = canvas.getContext('2d', {{ willReadFrequently: true }});
        ctx.drawImage(video, 0, 0, 160, 90);
        const data = ctx.getImageData(0, 0, 160, 90).data;
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {{
            if (data[i + 2] > data[i] + 60 && data[i + 2] > data[i + 1] + 60) count += 1;
        }}
        blue += count / (160 * 90);
    }}
    const rows = await window.watchPage.webinar.client.inboundStats();
    const decoded = rows.filter((row) => row.kind === 'video').reduce((sum, row) => sum + row.framesDecoded, 0);
    return {{ energy: energy / frames, blue: blue / frames, decoded }};
}}"""

# In the host page: the camera's frames and the sent frames, where the mask says background.
HOST_BACKGROUND_SHARPNESS = f"""async () => {{
    const edgeEnergy = {EDGE_ENERGY_JS};
    const webinar = window.hostPage.webinar;
    const effect = webinar.effects.running('camera');
    const play = async (track) => {{
        const video = Object.assign(document.createElement('video'), {{ muted: true, playsInline: true }});
        video.srcObject = new MediaStream([track]);
        await video.play();
        await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
        return video;
    }};
    const camera = await play(effect.input);
    const sent = await play(webinar.client.producers.get('camera').track);
    const results = {{ camera: 0, sent: 0, share: 0, masks: effect.stats.masksMade, drawn: effect.stats.framesDrawn }};
    for (let n = 0; n < 5; n += 1) {{
        await new Promise((resolve) => sent.requestVideoFrameCallback(resolve));
        const mask = effect.mask;
        const raw = edgeEnergy(camera, mask);
        results.camera += raw.energy / 5;
        results.sent += edgeEnergy(sent, mask).energy / 5;
        results.share += raw.share / 5;
    }}
    for (const video of [camera, sent]) video.srcObject = null;
    return results;
}}"""

PRODUCER_IDS = "() => Object.fromEntries([...window.hostPage.webinar.client.producers].map(([t, p]) => [t, p.id]))"
EFFECT_STATE = "() => window.hostPage.webinar.effects.state"
SENT_CAMERA_TRACK = "() => window.hostPage.webinar.client.producers.get('camera').track.id"
AUDIO_CONSUMED = "() => [...window.watchPage.webinar.client.consumers.values()].some((c) => c.kind === 'audio')"
ESSENTIAL_REFUSAL = "EffectsRefused: {} is part of the Professional plan; this organisation is on Essential"


def noisy_voice_file(path: Path, seconds: float = 4.0) -> Path:
    """Half a second of a voice-like buzz, half a second of pause, over white and pink noise."""
    rng = random.Random(13)
    pink = [0.0] * 3
    frames = bytearray()
    for n in range(int(seconds * RATE)):
        t = n / RATE
        voiced = (t % 1.0) < 0.5
        buzz = 0.0
        if voiced:
            envelope = math.sin(math.pi * (t % 1.0) / 0.5) ** 0.5
            buzz = envelope * sum(math.sin(2 * math.pi * 180 * k * t) / k for k in range(1, 8)) * 0.12
        white = rng.gauss(0.0, 1.0)
        # Pink-ish noise: three leaky integrators (Paul Kellet's economy filter).
        pink[0] = 0.99765 * pink[0] + white * 0.0990460
        pink[1] = 0.96300 * pink[1] + white * 0.2965164
        pink[2] = 0.57000 * pink[2] + white * 1.0526913
        noise = 0.02 * white + 0.012 * (pink[0] + pink[1] + pink[2] + white * 0.1848)
        sample = max(-1.0, min(1.0, buzz + noise))
        frames += struct.pack("<h", int(sample * 32767))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return path


def blue_png(path: Path, width: int = 64, height: int = 36) -> Path:
    """A plain blue PNG: the background image the host picks."""
    row = b"\x00" + bytes((20, 60, 230)) * width
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(row * height)),
        (b"IEND", b""),
    ]
    data = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)) for kind, body in chunks
    )
    path.write_bytes(data)
    return path


def floor_and_peak(levels: list[float]) -> tuple[float, float]:
    ordered = sorted(levels)
    return ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def noisy_browser(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    """A Chromium whose fake microphone plays the noisy voice file (looped)."""
    sound = noisy_voice_file(tmp_path_factory.mktemp("effects") / "noisy-voice.wav")
    launched = await browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={sound}"],
    )
    yield launched
    await launched.close()


async def measure_noise(viewer: Page, seconds: float = 3.0) -> tuple[float, float]:
    levels: list[float] = await viewer.evaluate(RECEIVED_LEVELS, {"seconds": seconds})
    assert len(levels) > seconds * 20, f"too few level readings: {len(levels)}"
    return floor_and_peak(levels)


async def test_rnnoise_lowers_the_noise_floor_the_viewer_hears(
    noisy_browser: Browser, browser: Browser, suite: Suite
) -> None:
    webinar = await new_webinar(suite, "Quiet please")
    host_context = await new_context(noisy_browser)
    viewer_context = await new_context(browser)
    pages = BrowserPages(host_context)
    try:
        host = await open_host_page(pages, suite, webinar, go_live=False)
        await host.get_by_role("button", name="Noise suppression").click()
        await expect(host.get_by_role("button", name="Noise suppression")).to_have_attribute("aria-pressed", "true")
        await host.get_by_role("button", name="Go live").click()
        await expect(host.get_by_role("status")).to_contain_text("You are live")
        state = await host.evaluate(EFFECT_STATE)
        assert state["noiseSuppression"] == "rnnoise", state
        assert state["noiseSuppressionFallback"] is None
        producers = await host.evaluate(PRODUCER_IDS)

        viewer = await open_viewer(viewer_context, pages, "listener", webinar.viewer_link)
        await wait_true(viewer, AUDIO_CONSUMED)
        await viewer.wait_for_timeout(1000)  # the jitter buffer settles
        on_floor, on_peak = await measure_noise(viewer)

        # Off from the toggle, while live: RNNoise is bypassed and the capture goes out as the
        # browser gives it (Chromium keeps its own suppression on a live track: said below).
        await host.get_by_role("button", name="Noise suppression").click()
        await expect(host.get_by_role("status")).to_have_text("Noise suppression is off.")
        browser_own = (await host.evaluate(EFFECT_STATE))["browserNoiseSuppression"]
        await viewer.wait_for_timeout(500)
        off_floor, off_peak = await measure_noise(viewer)

        # And on again, while live.
        await host.get_by_role("button", name="Noise suppression").click()
        await expect(host.get_by_role("status")).to_have_text("Noise suppression is on.")
        await viewer.wait_for_timeout(500)
        again_floor, again_peak = await measure_noise(viewer)

        print(
            f"\nreceived noise floor / bursts (dBFS): RNNoise on {on_floor:.1f} / {on_peak:.1f}, "
            f"off {off_floor:.1f} / {off_peak:.1f} (the browser's own suppression: {browser_own}), "
            f"on again {again_floor:.1f} / {again_peak:.1f}"
        )
        assert off_floor - on_floor >= 10, (on_floor, off_floor)
        assert off_floor - again_floor >= 10, (again_floor, off_floor)
        assert on_peak - on_floor >= 20, "the bursts still come through, well above the floor"
        assert again_peak > off_peak - 10, "RNNoise keeps the bursts"
        assert await host.evaluate(PRODUCER_IDS) == producers, "toggling kept the same producers"
        assert pages.console_errors() == ""
    finally:
        await viewer_context.close()
        await host_context.close()


async def test_a_blurred_or_replaced_background_reaches_the_viewer_and_toggles_while_live(
    noisy_browser: Browser, browser: Browser, suite: Suite, tmp_path: Path
) -> None:
    webinar = await new_webinar(suite, "Behind me")
    host_context = await new_context(noisy_browser)
    viewer_context = await new_context(browser)
    pages = BrowserPages(host_context)
    try:
        host = await open_host_page(pages, suite, webinar, go_live=False)
        # Before going live: the preview shows the blurred camera.
        await host.get_by_role("button", name="Blur background").click()
        await expect(host.get_by_role("status")).to_have_text("Your background is blurred.", timeout=30000)
        assert await host.evaluate(
            "() => document.querySelector('#preview').srcObject.getVideoTracks()[0]"
            " !== window.hostPage.preview.getVideoTracks()[0]"
        ), "the preview shows the effect's frames"
        await host.get_by_role("button", name="Go live").click()
        await expect(host.get_by_role("status")).to_contain_text("You are live", timeout=30000)
        assert (await host.evaluate(EFFECT_STATE))["background"] == {"blur": 10}
        producers = await host.evaluate(PRODUCER_IDS)

        viewer = await open_viewer(viewer_context, pages, "watcher", webinar.viewer_link)
        await wait_true(viewer, TILE_DECODED, {"source": "camera", "name": None})

        # In the host page: where the mask says background, the sent frames lost their edges.
        sharpness = await host.evaluate(HOST_BACKGROUND_SHARPNESS)
        assert sharpness["masks"] > 0, sharpness
        assert sharpness["drawn"] > 0, sharpness
        assert sharpness["share"] > 0.3, f"the mask leaves too little background to compare: {sharpness}"
        assert sharpness["sent"] < 0.5 * sharpness["camera"], sharpness

        blurred = await viewer.evaluate(VIEWER_FRAMES, {"frames": 5})
        await screenshot(viewer, "effects-blurred")

        # Off while live: the camera itself, on the same producer, and the viewer's frames sharpen.
        await host.get_by_role("button", name="Blur background").click()
        await expect(host.get_by_role("status")).to_have_text("No virtual background.")
        await viewer.wait_for_timeout(1000)
        plain = await viewer.evaluate(VIEWER_FRAMES, {"frames": 5})
        assert plain["decoded"] > blurred["decoded"], "frames keep coming"
        assert blurred["energy"] < 0.6 * plain["energy"], (blurred, plain)

        # A background image the host picks: its blue fills the background the viewer sees.
        await host.get_by_label("Background image").set_input_files(str(blue_png(tmp_path / "blue.png")))
        await expect(host.get_by_role("status")).to_have_text("Your background image is on.", timeout=30000)
        await viewer.wait_for_timeout(1000)
        pictured = await viewer.evaluate(VIEWER_FRAMES, {"frames": 5})
        await screenshot(viewer, "effects-image")
        assert plain["blue"] < 0.05, plain
        assert pictured["blue"] > 0.3, pictured
        assert pictured["decoded"] > plain["decoded"]

        # Blur again straight from the image: the effect's own track stays, only its drawing changes.
        sent_before = await host.evaluate(SENT_CAMERA_TRACK)
        await host.get_by_role("button", name="Blur background").click()
        await expect(host.get_by_role("status")).to_have_text("Your background is blurred.")
        assert await host.evaluate(SENT_CAMERA_TRACK) == sent_before
        await viewer.wait_for_timeout(1000)
        reblurred = await viewer.evaluate(VIEWER_FRAMES, {"frames": 5})
        assert reblurred["blue"] < 0.05, reblurred
        assert reblurred["decoded"] > pictured["decoded"], reblurred

        assert await host.evaluate(PRODUCER_IDS) == producers, "toggling kept the same producers"
        print(
            f"\nedge energy: host background camera {sharpness['camera']:.2f} -> sent {sharpness['sent']:.2f} "
            f"(background {sharpness['share']:.0%} of the frame); viewer blurred {blurred['energy']:.2f}, "
            f"plain {plain['energy']:.2f}; blue share with the image {pictured['blue']:.0%}"
        )
        assert pages.console_errors() == ""
    finally:
        await viewer_context.close()
        await host_context.close()


async def test_an_essential_organisation_is_refused_effects(
    browser_pages: BrowserPages, noisy_browser: Browser, suite: Suite, essential_key: str
) -> None:
    # The SDK: the plan comes with the join; effects are refused, plain media is not.
    page = await browser_pages.open("sdk", suite.url + "/demo/")
    refusals: dict[str, Any] = await page.evaluate(
        """async ({ apiKey, room }) => {
            const { Webinar } = await import('/demo/webinar.js');
            const webinar = new Webinar({ apiKey });
            await webinar.join(room, { name: 'Essie' });
            const refusal = (promise) => promise.then(() => 'published', (error) => `${error.name}: ${error.message}`);
            const result = {
                plan: webinar.plan,
                noise: await refusal(webinar.publish.microphone({ noiseSuppression: 'rnnoise' })),
                background: await refusal(webinar.publish.camera({ background: { blur: 8 } })),
            };
            await webinar.publish.camera();
            result.background_live = await refusal(webinar.setBackground({ image: '/demo/none.png' }));
            result.producers = [...webinar.client.producers.keys()];
            await webinar.leave();
            return result;
        }""",
        {"apiKey": essential_key, "room": f"essential-{secrets.token_hex(4)}"},
    )
    assert refusals == {
        "plan": "essential",
        "noise": ESSENTIAL_REFUSAL.format("Noise suppression"),
        "background": ESSENTIAL_REFUSAL.format("A virtual background"),
        "background_live": ESSENTIAL_REFUSAL.format("A virtual background"),
        "producers": ["camera"],
    }

    # The host page: effects chosen before going live are refused, and the host goes live without them.
    context = await new_context(noisy_browser)
    try:
        host = await context.new_page()
        await host.goto(suite.url + "/app/")
        await host.evaluate(
            """({ apiKey, token }) => {
                localStorage.setItem('webinar.apiKey', apiKey);
                localStorage.setItem('webinar.token', token);
                localStorage.setItem('webinar.user', JSON.stringify({ fName: 'Essie', lName: 'Example' }));
            }""",
            {"apiKey": essential_key, "token": await login_token(suite.url, essential_key)},
        )
        await host.goto(f"{suite.url}/app/host.html?room=essential-{secrets.token_hex(4)}&title=Essentials")
        await expect(host.get_by_role("status")).to_have_text("Check your camera and microphone, then go live.")
        await host.get_by_role("button", name="Noise suppression").click()
        await expect(host.get_by_role("button", name="Noise suppression")).to_have_attribute("aria-pressed", "true")
        await host.get_by_role("button", name="Go live").click()
        await expect(host.get_by_role("status")).to_contain_text("You are live")
        await expect(host.locator(".effects-note")).to_have_text(
            "Noise suppression is part of the Professional plan; this organisation is on Essential: "
            "you are live without effects."
        )
        assert await host.get_by_role("button", name="Noise suppression").is_disabled()
        assert await host.get_by_role("button", name="Blur background").is_disabled()
        assert sorted(await host.evaluate(PRODUCER_IDS)) == ["camera", "microphone"]
    finally:
        await context.close()
