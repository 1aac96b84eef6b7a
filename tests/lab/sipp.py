"""A customer placed by SIPp (Debian's sip-tester): its built-in `uac_pcap` call with the
customer's own number in From, playing the G.711 A-law voice pcap that sip-tester ships, then
hanging up. SIPp cannot answer an auth challenge: it calls from the carrier's address, which
the trunk identifies without authentication."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

VOICE = Path("/usr/share/sip-tester/g711a.pcap")

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callcentre lab customer (uac_pcap with a caller number)">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:{number}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[local_ip_type] [local_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" crlf="true"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:{number}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <pause milliseconds="{wait_ms}"/>
  <nop><action><exec play_pcap_audio="{voice}"/></action></nop>
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:{number}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


class SippError(RuntimeError):
    """SIPp's call failed (its error log is in the message)."""


@dataclass
class SippCustomer:
    number: str
    address: str
    sip_port: int
    media_port: int
    directory: Path

    async def call(self, target: str, service: str, *, wait: float, talk: float) -> None:
        """Call `service`@`target`, wait `wait` s after the answer, play the voice, hang up
        `talk` s later; returns when SIPp has finished (raises if the call failed)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        scenario = self.directory / "customer.xml"
        scenario.write_text(
            SCENARIO.format(
                number=self.number,
                voice=VOICE,
                wait_ms=int(wait * 1000),
                talk_ms=int(talk * 1000),
            )
        )
        process = await asyncio.create_subprocess_exec(
            shutil.which("sipp") or "sipp", target, "-sf", str(scenario), "-s", service,
            "-i", self.address, "-p", str(self.sip_port), "-mi", self.address,
            "-mp", str(self.media_port), "-m", "1", "-timeout", "60", "-timeout_error",
            "-trace_err", "-error_file", str(self.directory / "errors.log"),
            "-nostdin",
            cwd=self.directory,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await process.communicate()
        if process.returncode != 0:
            errors = (self.directory / "errors.log").read_text(errors="replace")[-2000:]
            raise SippError(f"sipp exited {process.returncode}: {output.decode()[-500:]} {errors}")
