# The baseline for /status under load: the smallest twisted.web resource there
# is, answering a constant, run by the same twistd with the same logging as the
# daemon (an access-log line per request, like every twisted.web Site).
#     twistd -n --logfile LOG -y bench/minimal.tac      (BENCH_PORT=0: any free port)
import os

from twisted.application import service, strports
from twisted.web import resource, server

BODY = b'{"state": "done"}\n'


class Constant(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return BODY


application = service.Application("minimal")
site = server.Site(Constant())
strports.service("tcp:%s:interface=127.0.0.1" % os.environ.get("BENCH_PORT", "0"), site).setServiceParent(application)
