"""A TTS client written the way Kyutai's own script talks to moshi-server (moshi-server.md §7).

It connects to ``<url>/api/tts_streaming?voice=...&format=PcmMessagePack`` with the header
``kyutai-api-key: public_token`` (passed as ``additional_headers``, websockets >= 14), sends one
``Text`` message per word and then ``Eos``, keeps only the ``Audio`` messages, and ends when the
server closes the connection. Nothing here knows about kyudoctor or the simulator: the tests
use it to show that the simulator is indistinguishable from the real server for such a client.

Run by hand: ``python tests/kyutai_client.py ws://127.0.0.1:8080 "Hello world, how are you"``.
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlencode

import msgpack
import websockets

DEFAULT_VOICE = "expresso/ex03-ex01_happy_001_channel1_334s.wav"
SAMPLE_RATE = 24000


async def receive_messages(websocket: websockets.ClientConnection, pcm: list[float]) -> None:
    """Keep the samples of every Audio message until the server closes."""
    async for message_bytes in websocket:
        msg = msgpack.unpackb(message_bytes)
        if msg["type"] == "Audio":
            pcm.extend(msg["pcm"])


async def send_messages(websocket: websockets.ClientConnection, text: str) -> None:
    """One Text message per word, then Eos."""
    for word in text.split():
        await websocket.send(msgpack.packb({"type": "Text", "text": word}))
    await websocket.send(msgpack.packb({"type": "Eos"}))


async def tts(
    text: str,
    url: str = "ws://127.0.0.1:8080",
    voice: str = DEFAULT_VOICE,
    api_key: str = "public_token",
) -> list[float]:
    """Speak ``text``; returns the 24 kHz samples received."""
    params = {"voice": voice, "format": "PcmMessagePack"}
    uri = f"{url}/api/tts_streaming?{urlencode(params)}"
    headers = {"kyutai-api-key": api_key}
    pcm: list[float] = []
    async with websockets.connect(uri, additional_headers=headers) as websocket:
        send_task = asyncio.create_task(send_messages(websocket, text))
        receive_task = asyncio.create_task(receive_messages(websocket, pcm))
        await asyncio.gather(send_task, receive_task)
    return pcm


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080"
    text = sys.argv[2] if len(sys.argv) > 2 else "Hey there, this is a test of the TTS server."
    pcm = asyncio.run(tts(text, url))
    print(f"received {len(pcm)} samples, {len(pcm) / SAMPLE_RATE:.2f} s of audio")


if __name__ == "__main__":
    main()
