"""behest-local's performance harness (issue 9), run by hand: ``python -m bench [--quick]``.

The pieces, one module each:

* ``upstream``: a fast fake OpenAI upstream (aiohttp's low-level server, pre-encoded
  answers; streams paced, every event stamped with its sequence number and send time);
* ``proxy``: a bare aiohttp pass-through, the ceiling for any Python gateway here;
* ``targets``: starting and stopping what is measured: the upstream directly, the bare
  proxy, behest-local through its CLI, LiteLLM's proxy and Portkey's gateway;
* ``load`` and ``streams``: the load generators (aiohttp and ``wrk`` for requests, raw
  asyncio sockets for streams, so each TCP read and each HTTP chunk can be counted);
* ``scenarios``: a–f of issues 9 and 25, ``emulated``: g and h (the emulated model);
  ``report``: the machine, the table, the targets;
* ``run``: the command line; ``profile``: the gateway under pyinstrument.

Every process is on loopback; every load loop is bounded in count and in time.
"""
