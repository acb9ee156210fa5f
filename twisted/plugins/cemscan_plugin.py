from twisted.application.service import ServiceMaker

cemscan = ServiceMaker("cemscan", "cemscan.tap", "On-node compliance-scan daemon", "cemscan")
