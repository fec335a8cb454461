#include "agent/driver/libvirt/xml.hpp"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

namespace vpsfleet::agent::libvirt::xml {

namespace {

const xmlChar* x(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

struct xpath_context_free {
    void operator()(xmlXPathContextPtr c) const { xmlXPathFreeContext(c); }
};
struct xpath_object_free {
    void operator()(xmlXPathObjectPtr o) const { xmlXPathFreeObject(o); }
};

}  // namespace

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

document::document(const std::string& text) {
    doc_.reset(xmlReadMemory(
        text.data(), static_cast<int>(text.size()), "libvirt.xml", nullptr,
        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS));
    if (!doc_ || !xmlDocGetRootElement(doc_.get())) throw parse_error("malformed XML from libvirt");
}

xmlNodePtr document::root() const { return xmlDocGetRootElement(doc_.get()); }

std::vector<xmlNodePtr> document::select(const std::string& xpath, xmlNodePtr context) const {
    std::unique_ptr<xmlXPathContext, xpath_context_free> ctx(xmlXPathNewContext(doc_.get()));
    if (!ctx) throw parse_error("out of memory");
    xmlXPathRegisterNs(ctx.get(), x(k_metadata_prefix), x(k_metadata_ns));
    ctx->node = context ? context : root();
    std::unique_ptr<xmlXPathObject, xpath_object_free> found(
        xmlXPathEvalExpression(x(xpath.c_str()), ctx.get()));
    if (!found) throw parse_error("bad XPath expression: " + xpath);
    std::vector<xmlNodePtr> out;
    if (found->nodesetval) {
        for (int i = 0; i < found->nodesetval->nodeNr; ++i)
            out.push_back(found->nodesetval->nodeTab[i]);
    }
    return out;
}

xmlNodePtr document::first(const std::string& xpath, xmlNodePtr context) const {
    auto nodes = select(xpath, context);
    return nodes.empty() ? nullptr : nodes.front();
}

std::optional<std::string> document::value(const std::string& xpath, xmlNodePtr context) const {
    xmlNodePtr n = first(xpath, context);
    if (!n) return std::nullopt;
    return text(n);
}

std::optional<std::string> document::attribute(xmlNodePtr node, const char* name) {
    xmlChar* v = xmlGetProp(node, x(name));
    if (!v) return std::nullopt;
    std::string out(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return out;
}

std::string document::text(xmlNodePtr node) {
    xmlChar* v = xmlNodeGetContent(node);
    if (!v) return {};
    std::string out(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return out;
}

void document::set_attribute(xmlNodePtr node, const char* name, const std::string& value) {
    xmlSetProp(node, x(name), x(value.c_str()));
}

xmlNodePtr document::child(xmlNodePtr parent, const char* name) {
    for (xmlNodePtr c = parent->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, x(name)) == 0) return c;
    }
    return xmlNewChild(parent, nullptr, x(name), nullptr);
}

void document::set_text(xmlNodePtr node, const std::string& text) {
    xmlChar* encoded = xmlEncodeSpecialChars(node->doc, x(text.c_str()));
    xmlNodeSetContent(node, encoded);
    xmlFree(encoded);
}

void document::remove(xmlNodePtr node) {
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

std::string document::str() const {
    xmlChar* buffer = nullptr;
    int size = 0;
    xmlDocDumpMemory(doc_.get(), &buffer, &size);
    std::string out(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(size));
    xmlFree(buffer);
    return out;
}

std::string document::str(xmlNodePtr node) const {
    xmlBufferPtr buffer = xmlBufferCreate();
    xmlNodeDump(buffer, doc_.get(), node, 0, 0);
    std::string out(reinterpret_cast<const char*>(xmlBufferContent(buffer)),
                    static_cast<std::size_t>(xmlBufferLength(buffer)));
    xmlBufferFree(buffer);
    return out;
}

}  // namespace vpsfleet::agent::libvirt::xml
