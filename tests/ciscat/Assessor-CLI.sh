#!/bin/sh
# A FAKE CIS-CAT Pro Assessor v4 command line, for cemscan's tests: CIS-CAT is
# proprietary and cannot be installed here.  POSIX sh + awk only, so it runs
# under `setsid` with the daemon's small environment.
#
# It takes the real options cemscan uses (-b -p -rd -rp -nts -json, also -q,
# -narf, -D), "assesses" the benchmark given with -b for the profile given
# with -p (id or title; the first profile without -p), prints the console
# lines real runs print, writes the reports real runs write, and exits with
# the code a real run would.  Shapes follow CIS's user guide ("User Guide -
# Assessor.md" in github.com/CISecurity/CCPA-Docs) and transcripts of real
# runs; docs/ciscat.md says which parts are confirmed and which are guesses.
#
#   PREFIX-ARF.xml  an ARF 1.1 asset-report-collection: the benchmark copied
#                   into a data-stream collection (report request), the asset,
#                   and the XCCDF 1.2 TestResult (a rule-result for every rule
#                   of the benchmark, notselected for those the profile leaves
#                   out) with <score> elements
#   PREFIX.json     with -json: benchmark/profile ids and titles, score, rules
# (with no -nts a UTC timestamp is added: PREFIX-TS.json, PREFIX-TS-ARF.xml)
#
# The "host state" is RESULTS below: result by rule number, "pass" when not
# listed.  Test knobs, passed the way CIS-CAT takes properties (-D name=value):
#   -D fake.results=1.1.1=fail,6.2.1=error   override RESULTS
#   -D fake.exit.code=N     end with exit code N and no reports: codes >= 100
#                           stop before the assessment (as the real ones do),
#                           others after fake.stop.after rule lines (default 0)
#   -D fake.stop.after=N
#   -D fake.score.systems=flat,default   which <score>s to write, in order
#                           (default: flat then default; "none" for none)
#   -D fake.rule.delay=S    sleep S seconds after each rule line
# Real CIS-CAT exits 116 when not run as root; this fake does not check.

RESULTS="1.1.1=pass,1.1.2=pass,1.1.3=fail,1.2.1=fail,1.3.1=notchecked,1.4.1=notapplicable,\
2.1.1=informational,2.2.1=pass,2.2.2=pass,2.2.3=fail,5.1.1=pass,5.2.1=error,6.1.1=pass,\
6.1.2=unknown,6.2.1=pass,6.2.2=fail"

SCRIPT=$(readlink -f "$0")
SCRIPTPATH=$(dirname "$SCRIPT")

BENCHMARK=
PROFILE=
REPORTS_DIR=
PREFIX=
NTS=0
JSON=0
QUIET=0
NO_ARF=0
EXIT_CODE=0
STOP_AFTER=0
SCORE_SYSTEMS=flat,default
RULE_DELAY=0

usage_error() {
    echo "$1"
    echo "usage: Assessor-CLI.[bat|sh] -[options] <extras>"
    echo "Exit Code: 1"
    echo "Exit Description: CIS-CAT Pro Assessor Exited Unsuccessfully."
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        -b|--benchmark|-p|--profile|-rd|--reports-dir|-rp|--report-prefix|-D)
            [ $# -ge 2 ] || usage_error "Missing argument for option: ${1#-}"
            case "$1" in
                -b|--benchmark) BENCHMARK=$2 ;;
                -p|--profile) PROFILE=$2 ;;
                -rd|--reports-dir) REPORTS_DIR=$2 ;;
                -rp|--report-prefix) PREFIX=$2 ;;
                -D)
                    case "$2" in
                        fake.results=*) RESULTS="$RESULTS,${2#fake.results=}" ;;
                        fake.exit.code=*) EXIT_CODE=${2#fake.exit.code=} ;;
                        fake.stop.after=*) STOP_AFTER=${2#fake.stop.after=} ;;
                        fake.score.systems=*) SCORE_SYSTEMS=${2#fake.score.systems=} ;;
                        fake.rule.delay=*) RULE_DELAY=${2#fake.rule.delay=} ;;
                        *=*) ;;  # a user property or interactive value: accepted, unused
                        *) usage_error "Invalid property: $2" ;;
                    esac ;;
            esac
            shift 2 ;;
        -nts|--no-timestamp) NTS=1; shift ;;
        -json) JSON=1; shift ;;
        -q|--quiet) QUIET=1; shift ;;
        -narf|--no-arf) NO_ARF=1; shift ;;
        -html|-csv|-txt|-npr|-nl|--no-logging|-v|-vv|-vvv|-vvvv|-vvvvv|-vvvvvv) shift ;;
        *) usage_error "Unrecognized option: $1" ;;
    esac
done

# Like CIS-CAT: relative paths are relative to the folder of Assessor-CLI.jar
# (here: of this script), not to the working directory.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$SCRIPTPATH" "$1" ;;
    esac
}

# The welcome banner of a real run, less the ASCII art.
echo "--------------------------------------------------------------------------------------"
echo "         Welcome to CIS-CAT Pro Assessor; built on 12/04/2026 00:00 AM"
echo "--------------------------------------------------------------------------------------"
echo "  This is the Center for Internet Security Configuration Assessment Tool, v4.99.0-fake"
echo "--------------------------------------------------------------------------------------"
echo
echo "Verifying application"
echo

fail_early() {  # code, words: a real early stop prints its words and exit code
    echo "$2"
    echo "Exiting; Exit Code: $1"
    exit "$1"
}

[ -n "$BENCHMARK" ] || usage_error "No benchmark given (-b); the fake has no interactive mode."
BENCHMARK=$(absolute "$BENCHMARK")
[ -f "$BENCHMARK" ] || fail_early 108 "Unable to find Benchmark content: $BENCHMARK"
[ -n "$REPORTS_DIR" ] || usage_error "The fake needs -rd: it never writes into its own folder."
REPORTS_DIR=$(absolute "$REPORTS_DIR")
case "$EXIT_CODE" in
    ''|*[!0-9]*) usage_error "fake.exit.code must be a number: $EXIT_CODE" ;;
esac
if [ "$EXIT_CODE" -ge 100 ]; then
    fail_early "$EXIT_CODE" "Assessment stopped (fake.exit.code=$EXIT_CODE)."
fi
mkdir -p "$REPORTS_DIR" || fail_early 1 "Unable to create the reports folder $REPORTS_DIR"

HOST=$(uname -n)
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

echo "Attempting to load the default sessions.properties, bundled with the application."
echo "Started Assessment 1/1"
echo
echo "Obtaining session connection --> Local"
echo "Connection established."

LC_ALL=C awk \
    -v bench="$BENCHMARK" -v want_profile="$PROFILE" -v results="$RESULTS" \
    -v rdir="$REPORTS_DIR" -v prefix="$PREFIX" -v nts="$NTS" -v stamp="$STAMP" \
    -v want_json="$JSON" -v no_arf="$NO_ARF" -v quiet="$QUIET" -v host="$HOST" \
    -v now="$NOW" -v exit_code="$EXIT_CODE" -v stop_after="$STOP_AFTER" \
    -v score_systems="$SCORE_SYSTEMS" -v rule_delay="$RULE_DELAY" '

function attr(tag, name,    s) {
    if (!match(tag, "[ \t\n]" name "=\"[^\"]*\""))
        return ""
    s = substr(tag, RSTART, RLENGTH)
    sub(/^[ \t\n][^=]*="/, "", s)
    sub(/"$/, "", s)
    return s
}

function unescape(s) {
    gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s)
    gsub(/&apos;/, "\047", s); gsub(/&amp;/, "\\&", s)
    return s
}

function json_string(s) {
    s = unescape(s)
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
    return "\"" s "\""
}

function read_benchmark(    doc, line, i, j, rest, text, tag, name, top, parent) {
    while ((getline line < bench) > 0)
        doc = doc line "\n"
    close(bench)
    while ((i = index(doc, "<!--")) > 0) {
        j = index(substr(doc, i), "-->")
        if (j == 0) break
        doc = substr(doc, 1, i - 1) substr(doc, i + j + 2)
    }
    depth = 0; ngroups = 0; gdepth = 0; nrules = 0; nprofiles = 0; cur_profile = 0
    rest = doc
    while (match(rest, /<[^>]*>/)) {
        text = substr(rest, 1, RSTART - 1)
        tag = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
        if (tag ~ /^<[?!]/)
            continue
        name = tag
        sub(/^<\/?/, "", name); sub(/[ \t\n\/>].*$/, "", name); sub(/^.*:/, "", name)
        if (tag ~ /^<\//) {                     # an end tag
            top = stack[depth]; parent = stack[depth - 1]
            if (top == "title" && parent == "Rule") rtitle[nrules] = text
            else if (top == "title" && parent == "Profile") ptitle[cur_profile] = text
            else if (top == "title" && parent == "Benchmark") btitle = text
            else if (top == "version" && parent == "Benchmark") bversion = text
            else if (top == "Group") gdepth--
            else if (top == "Profile") cur_profile = 0
            depth--
            continue
        }
        if (name == "Benchmark") bid = attr(tag, "id")
        else if (name == "Profile") { cur_profile = ++nprofiles; pid[cur_profile] = attr(tag, "id") }
        else if (name == "select" && cur_profile)
            psel[cur_profile, attr(tag, "idref")] = attr(tag, "selected")
        else if (name == "Group") {
            ngroups++; gparent[ngroups] = gdepth ? gstack[gdepth] : 0
            gstack[++gdepth] = ngroups
        } else if (name == "Rule") {
            nrules++; rid[nrules] = attr(tag, "id"); rparent[nrules] = gdepth ? gstack[gdepth] : 0
            rselected[nrules] = attr(tag, "selected")
        }
        if (tag !~ /\/>$/)
            stack[++depth] = name
    }
}

function words(result) {
    return result == "pass" ? "Pass" : result == "fail" ? "Fail" : result == "error" ? "Error" : \
        result == "unknown" ? "Unknown" : result == "notapplicable" ? "Not Applicable" : \
        result == "notchecked" ? "Not Checked" : result == "informational" ? "Informational" : \
        result == "fixed" ? "Fixed" : "Not Selected"
}

function scored(result) {
    return result == "pass" || result == "fixed" || result == "fail" || result == "error" || result == "unknown"
}

# urn:xccdf:scoring:default (XCCDF 1.2, 7.3.2.2), every weight 1: a group
# scores the mean of its children that have a score; a rule 100 or 0.
function default_score(    i, g) {
    for (g = 0; g <= ngroups; g++) { gsum[g] = 0; gcount[g] = 0 }
    for (i = 1; i <= nrules; i++)
        if (scored(result[i])) {
            gsum[rparent[i]] += (result[i] == "pass" || result[i] == "fixed") ? 100 : 0
            gcount[rparent[i]]++
        }
    for (g = ngroups; g >= 1; g--)              # children come after their parent
        if (gcount[g]) { gsum[gparent[g]] += gsum[g] / gcount[g]; gcount[gparent[g]]++ }
    return gcount[0] ? gsum[0] / gcount[0] : 0
}

function line_for(i, n,    line) {
    line = sprintf("%02d/%d: %s", i, n, unescape(rtitle[i]))
    while (length(line) < 100) line = line "."
    return line " " words(result[i])
}

function write_arf(path,    line, i, n, systems, sys, skipping) {
    printf "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" > path
    printf "<arf:asset-report-collection xmlns:arf=\"http://scap.nist.gov/schema/asset-reporting-format/1.1\"" \
        " xmlns:core=\"http://scap.nist.gov/schema/reporting-core/1.1\"" \
        " xmlns:ai=\"http://scap.nist.gov/schema/asset-identification/1.1\"" \
        " xmlns:ds=\"http://scap.nist.gov/schema/scap/source/1.2\"" \
        " xmlns:xccdf=\"http://checklists.nist.gov/xccdf/1.2\"" \
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n" > path
    printf "  <core:relationships xmlns:arfvocab=\"http://scap.nist.gov/specifications/arf/vocabulary/relationships/1.0#\">\n" > path
    printf "    <core:relationship type=\"arfvocab:createdFor\" subject=\"xccdf1\"><core:ref>collection1</core:ref></core:relationship>\n" > path
    printf "    <core:relationship type=\"arfvocab:isAbout\" subject=\"xccdf1\"><core:ref>asset0</core:ref></core:relationship>\n" > path
    printf "  </core:relationships>\n  <arf:report-requests>\n    <arf:report-request id=\"collection1\">\n      <arf:content>\n" > path
    printf "        <ds:data-stream-collection id=\"scap_org.cisecurity_collection_%s\" schematron-version=\"1.2\">\n", bid > path
    printf "          <ds:data-stream id=\"scap_org.cisecurity_datastream_%s\" scap-version=\"1.2\" use-case=\"CONFIGURATION\">\n", bid > path
    printf "            <ds:checklists><ds:component-ref id=\"scap_org.cisecurity_cref_xccdf\" xlink:href=\"#scap_org.cisecurity_comp_xccdf\"/></ds:checklists>\n" > path
    printf "          </ds:data-stream>\n          <ds:component id=\"scap_org.cisecurity_comp_xccdf\" timestamp=\"%s\">\n", now > path
    skipping = 0                                # the copy leaves out the XML declaration and comments
    while ((getline line < bench) > 0) {
        if (line ~ /^[ \t]*<!--/) skipping = 1
        if (!skipping && line !~ /^<\?xml/) print line > path
        if (skipping && line ~ /-->/) skipping = 0
    }
    close(bench)
    printf "          </ds:component>\n        </ds:data-stream-collection>\n      </arf:content>\n    </arf:report-request>\n  </arf:report-requests>\n" > path
    printf "  <arf:assets>\n    <arf:asset id=\"asset0\">\n      <ai:computing-device>\n" > path
    printf "        <ai:connections><ai:connection><ai:ip-address><ai:ip-v4>127.0.0.1</ai:ip-v4></ai:ip-address></ai:connection></ai:connections>\n" > path
    printf "        <ai:hostname>%s</ai:hostname>\n      </ai:computing-device>\n    </arf:asset>\n  </arf:assets>\n", host > path
    printf "  <arf:reports>\n    <arf:report id=\"xccdf1\">\n      <arf:content>\n" > path
    printf "        <xccdf:TestResult id=\"xccdf_org.cisecurity.benchmarks_testresult_%s\" start-time=\"%s\" end-time=\"%s\"" \
        " test-system=\"cpe:/a:cisecurity:cis-cat_pro_assessor:4.99.0-fake\" version=\"%s\">\n", stamp, now, now, bversion > path
    printf "          <xccdf:benchmark href=\"#scap_org.cisecurity_comp_xccdf\" id=\"%s\"/>\n", bid > path
    printf "          <xccdf:title>CIS-CAT Pro Assessor v4 assessment of %s</xccdf:title>\n", btitle > path
    printf "          <xccdf:identity authenticated=\"true\" privileged=\"true\">root</xccdf:identity>\n" > path
    printf "          <xccdf:profile idref=\"%s\"/>\n", pid[chosen] > path
    printf "          <xccdf:target>%s</xccdf:target>\n          <xccdf:target-address>127.0.0.1</xccdf:target-address>\n", host > path
    printf "          <xccdf:target-facts>\n            <xccdf:fact name=\"urn:xccdf:fact:asset:identifier:host_name\" type=\"string\">%s</xccdf:fact>\n          </xccdf:target-facts>\n", host > path
    for (i = 1; i <= nrules; i++) {
        printf "          <xccdf:rule-result idref=\"%s\" role=\"full\" time=\"%s\" weight=\"1.0\">\n", rid[i], now > path
        printf "            <xccdf:result>%s</xccdf:result>\n", result[i] > path
        if (result[i] != "notselected" && result[i] != "notchecked" && result[i] != "informational")
            printf "            <xccdf:check system=\"http://oval.mitre.org/XMLSchema/oval-definitions-5\"><xccdf:check-content-ref href=\"#oval0\" name=\"oval:org.cisecurity.benchmarks.fake:def:%d\"/></xccdf:check>\n", i > path
        printf "          </xccdf:rule-result>\n" > path
    }
    n = split(score_systems, systems, ",")
    for (i = 1; i <= n; i++) {
        sys = systems[i]
        if (sys == "flat")
            printf "          <xccdf:score system=\"urn:xccdf:scoring:flat\" maximum=\"%.1f\">%.1f</xccdf:score>\n", max_available, count["pass"] > path
        else if (sys == "default")
            printf "          <xccdf:score system=\"urn:xccdf:scoring:default\" maximum=\"100.0\">%.6f</xccdf:score>\n", default_score() > path
    }
    printf "        </xccdf:TestResult>\n      </arf:content>\n    </arf:report>\n  </arf:reports>\n</arf:asset-report-collection>\n" > path
    close(path)
}

function write_json(path,    i) {
    printf "{\n    \"benchmark-id\": %s,\n    \"benchmark-title\": %s,\n    \"benchmark-version\": %s,\n", \
        json_string(bid), json_string(btitle), json_string(bversion) > path
    printf "    \"profile-id\": %s,\n    \"profile-title\": %s,\n    \"score\": \"%.2f\",\n    \"rules\": [", \
        json_string(pid[chosen]), json_string(ptitle[chosen]), percent > path
    for (i = 1; i <= nrules; i++)
        printf "%s\n        {\n            \"rule-id\": %s,\n            \"rule-title\": %s,\n            \"result\": \"%s\"\n        }", \
            (i > 1 ? "," : ""), json_string(rid[i]), json_string(rtitle[i]), result[i] > path
    printf "\n    ]\n}\n" > path
    close(path)
}

function say(s) {
    if (!quiet) { print s; fflush() }
}

BEGIN {
    read_benchmark()
    chosen = 0
    for (i = 1; i <= nprofiles; i++)
        if (want_profile == "" || want_profile == pid[i] || want_profile == unescape(ptitle[i])) { chosen = i; break }
    if (!chosen) {
        print "Invalid profile: " want_profile
        print "Exiting; Exit Code: 111"
        exit 111
    }
    n = split(results, pairs, ",")
    for (i = 1; i <= n; i++)
        if (split(pairs[i], kv, "=") == 2) host_state[kv[1]] = kv[2]
    for (i = 1; i <= nrules; i++) {
        sel = ((chosen, rid[i]) in psel) ? psel[chosen, rid[i]] : rselected[i]
        num = rid[i]; sub(/^xccdf_org\.cisecurity\.benchmarks_rule_/, "", num); sub(/_.*$/, "", num)
        result[i] = (sel == "false" || sel == "0") ? "notselected" : (num in host_state) ? host_state[num] : "pass"
        count[result[i]]++
    }

    say("Selected Checklist \047" unescape(btitle) "\047")
    say("Selected Profile \047" unescape(ptitle[chosen]) "\047")
    say("Starting Assessment - Date & Time: " now)
    say("-----------------------------------------------------------------------------")
    say(" Checklist Title: " unescape(btitle))
    say("    Checklist ID: " bid)
    say("   Profile Title: " unescape(ptitle[chosen]))
    say("      Profile ID: " pid[chosen])
    say("")
    say("- Evaluating Checklist Rules")
    for (i = 1; i <= nrules; i++) {
        if (exit_code != 0 && i > stop_after) {
            print "Assessment stopped (fake.exit.code=" exit_code ")."
            print "Exiting; Exit Code: " exit_code
            exit exit_code
        }
        say(line_for(i, nrules))
        if (rule_delay > 0) system("sleep " rule_delay)
    }
    if (exit_code != 0) {
        print "Exiting; Exit Code: " exit_code
        exit exit_code
    }

    max_available = count["pass"] + count["fixed"] + count["fail"] + count["error"] + count["unknown"]
    percent = max_available ? 100 * (count["pass"] + count["fixed"]) / max_available : 0
    say("")
    say("-----------------------------------------------------------------------------")
    say(" ***** Assessment Results Summary *****")
    say("-----------------------------------------------------------------------------")
    say(sprintf("   Total # of Results: %d", nrules))
    say(sprintf(" Total Scored Results: %d", max_available))
    say(sprintf("           Total Pass: %d", count["pass"]))
    say(sprintf("           Total Fail: %d", count["fail"]))
    say(sprintf("          Total Error: %d", count["error"]))
    say(sprintf("        Total Unknown: %d", count["unknown"]))
    say(sprintf(" Total Not Applicable: %d", count["notapplicable"]))
    say(sprintf("    Total Not Checked: %d", count["notchecked"]))
    say(sprintf("   Total Not Selected: %d", count["notselected"]))
    say(sprintf("  Total Informational: %d", count["informational"]))
    say("-----------------------------------------------------------------------------")
    say(" ***** Assessment Scoring *****")
    say("-----------------------------------------------------------------------------")
    say(sprintf("         Score Earned: %.1f", count["pass"]))
    say(sprintf("    Maximum Available: %.1f", max_available))
    say(sprintf("                Total: %.2f%%", percent))
    say("-----------------------------------------------------------------------------")
    say("")
    say("- Generating Checklist Results...")
    say("")
    say("Ending Assessment - Date & Time: " now)

    if (prefix == "") {
        prefix = host "-" unescape(btitle)
        gsub(/[^A-Za-z0-9._-]/, "_", prefix)
    }
    base = rdir "/" prefix
    stamp_part = nts ? "" : "-" stamp
    say("")
    say(" ***** Writing Assessment Results ***** ")
    say(" - Reports saving to " rdir)
    if (!no_arf) {
        say("- Generating Asset Reporting Format.")
        write_arf(base stamp_part "-ARF.xml")
        say("- Asset Reporting Format Generated.")
        say(" -- " prefix stamp_part "-ARF.xml")
    }
    if (want_json) {
        write_json(base stamp_part ".json")
        say(" -- " prefix stamp_part ".json")
    }
    say("Assessment Complete for Checklist: " unescape(btitle))
    say("-----------------------------------------------------------")
    say("Disconnecting Session.")
    say("Finished Assessment 1/1")
    print "Exiting; Exit Code: 0"
    exit 0
}'
