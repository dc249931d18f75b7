/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
"use strict";

var $protobuf = require("protobufjs/minimal");

// Common aliases
var $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
var $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError, $Array = $util.global.Array, $TypeError = $util.global.TypeError, $String = $util.global.String, $parseInt = $util.global.parseInt, $BigInt = $util.global.BigInt, $Number = $util.global.Number, $Boolean = $util.global.Boolean, $isFinite = $util.global.isFinite;

// Exported root namespace
var $root = $protobuf.roots["artist_ts_runtime"] || ($protobuf.roots["artist_ts_runtime"] = {});

$root.artist = (function() {

    /**
     * Namespace artist.
     * @exports artist
     * @namespace
     */
    var artist = {};

    artist.TensorData = (function() {

        /**
         * Properties of a TensorData.
         * @typedef {Object} artist.TensorData.$Properties
         * @property {string|null} [name] TensorData name
         * @property {Array.<number>|null} [shape] TensorData shape
         * @property {string|null} [dtype] TensorData dtype
         * @property {Uint8Array|null} [data] TensorData data
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a TensorData.
         * @memberof artist
         * @interface ITensorData
         * @augments artist.TensorData.$Properties
         * @deprecated Use artist.TensorData.$Properties instead.
         */

        /**
         * Shape of a TensorData.
         * @typedef {artist.TensorData.$Properties} artist.TensorData.$Shape
         */

        /**
         * Constructs a new TensorData.
         * @memberof artist
         * @classdesc Represents a TensorData.
         * @constructor
         * @param {artist.TensorData.$Properties=} [p] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        var TensorData = function (p) {
            this.shape = [];
            if (p)
                for (var ks = $Object.keys(p), i = 0; i < ks.length; ++i)
                    if (p[ks[i]] != null && ks[i] !== "__proto__")
                        this[ks[i]] = p[ks[i]];
        };

        /**
         * TensorData name.
         * @member {string} name
         * @memberof artist.TensorData
         * @instance
         */
        TensorData.prototype.name = "";

        /**
         * TensorData shape.
         * @member {Array.<number>} shape
         * @memberof artist.TensorData
         * @instance
         */
        TensorData.prototype.shape = $util.emptyArray;

        /**
         * TensorData dtype.
         * @member {string} dtype
         * @memberof artist.TensorData
         * @instance
         */
        TensorData.prototype.dtype = "";

        /**
         * TensorData data.
         * @member {Uint8Array} data
         * @memberof artist.TensorData
         * @instance
         */
        TensorData.prototype.data = $util.newBuffer([]);

        /**
         * Creates a new TensorData instance using the specified properties.
         * @function create
         * @memberof artist.TensorData
         * @static
         * @param {artist.TensorData.$Properties=} [properties] Properties to set
         * @returns {artist.TensorData} TensorData instance
         * @type {{
         *   (properties: artist.TensorData.$Shape): artist.TensorData & artist.TensorData.$Shape;
         *   (properties?: artist.TensorData.$Properties): artist.TensorData;
         * }}
         */
        TensorData.create = function(properties) {
            return new TensorData(properties);
        };

        /**
         * Encodes the specified TensorData message. Does not implicitly {@link artist.TensorData.verify|verify} messages.
         * @function encode
         * @memberof artist.TensorData
         * @static
         * @param {artist.TensorData.$Properties} m TensorData message or plain object to encode
         * @param {$protobuf.Writer} [w] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        TensorData.encode = function (m, w, q) {
            if (!w)
                w = $Writer.create();
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (m.name != null && $Object.hasOwnProperty.call(m, "name") && m.name !== "")
                w.uint32(/* id 1, wireType 2 =*/10).string(m.name);
            if (m.shape != null && m.shape.length) {
                w.uint32(/* id 2, wireType 2 =*/18).int64s(m.shape);
            }
            if (m.dtype != null && $Object.hasOwnProperty.call(m, "dtype") && m.dtype !== "")
                w.uint32(/* id 3, wireType 2 =*/26).string(m.dtype);
            if (m.data != null && $Object.hasOwnProperty.call(m, "data") && m.data.length)
                w.uint32(/* id 4, wireType 2 =*/34).bytes(m.data);
            if (m.$unknowns != null && $Object.hasOwnProperty.call(m, "$unknowns"))
                for (var i = 0; i < m.$unknowns.length; ++i)
                    w.raw(m.$unknowns[i]);
            return w;
        };

        /**
         * Encodes the specified TensorData message, length delimited. Does not implicitly {@link artist.TensorData.verify|verify} messages.
         * @function encodeDelimited
         * @memberof artist.TensorData
         * @static
         * @param {artist.TensorData.$Properties} message TensorData message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        TensorData.encodeDelimited = function(message, writer) {
            return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
        };

        /**
         * Decodes a TensorData message from the specified reader or buffer.
         * @function decode
         * @memberof artist.TensorData
         * @static
         * @param {$protobuf.Reader|Uint8Array} r Reader or buffer to decode from
         * @param {number} [l] Message length if known beforehand
         * @returns {artist.TensorData & artist.TensorData.$Shape} TensorData
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        TensorData.decode = function (r, l, z, q, g) {
            if (!(r instanceof $Reader))
                r = $Reader.create(r);
            if (q === $undefined)
                q = 0;
            if (q > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var c, m, v;
            if (l === $undefined)
                c = r.len;
            else {
                c = r.pos + l;
                if (c > r.len)
                    throw $RangeError("index out of range");
                l = r.len;
                r.len = c;
            }
            m = g || new $root.artist.TensorData();
            while (r.pos < c) {
                var s = r.pos;
                var t = r.tag();
                if (t === z) {
                    z = $undefined;
                    break;
                }
                var u = t & 7;
                switch (t >>>= 3) {
                case 1: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.name = v;
                        else
                            delete m.name;
                        continue;
                    }
                case 2: {
                        if (u === 2) {
                            if (!(m.shape && m.shape.length))
                                m.shape = [];
                            r.int64s(m.shape);
                            continue;
                        }
                        if (u !== 0)
                            break;
                        if (!(m.shape && m.shape.length))
                            m.shape = [];
                        m.shape.push(r.int64());
                        continue;
                    }
                case 3: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.dtype = v;
                        else
                            delete m.dtype;
                        continue;
                    }
                case 4: {
                        if (u !== 2)
                            break;
                        if ((v = r.bytes()).length)
                            m.data = v;
                        else
                            delete m.data;
                        continue;
                    }
                }
                r.skipType(u, q, t);
                if (!r.discardUnknown) {
                    $util.makeProp(m, "$unknowns", false);
                    (m.$unknowns || (m.$unknowns = [])).push(r.raw(s, r.pos));
                }
            }
            if (l !== $undefined) {
                if (r.pos !== c)
                    throw $RangeError("index out of range");
                r.len = l;
            }
            if (z !== $undefined)
                throw $Error("missing end group");
            return m;
        };

        /**
         * Decodes a TensorData message from the specified reader or buffer, length delimited.
         * @function decodeDelimited
         * @memberof artist.TensorData
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @returns {artist.TensorData & artist.TensorData.$Shape} TensorData
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        TensorData.decodeDelimited = function(reader) {
            if (!(reader instanceof $Reader))
                reader = new $Reader(reader);
            return this.decode(reader, reader.size());
        };

        /**
         * Verifies a TensorData message.
         * @function verify
         * @memberof artist.TensorData
         * @static
         * @param {Object.<string,*>} m Plain object to verify
         * @returns {string|null} `null` if valid, otherwise the reason why it is not
         */
        TensorData.verify = function (m, q) {
            if (typeof m !== "object" || m === null)
                return "object expected";
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                return "max depth exceeded";
            if (m.name != null && $Object.hasOwnProperty.call(m, "name")) {
                if (!$util.isString(m.name))
                    return "name: string expected";
            }
            if (m.shape != null && $Object.hasOwnProperty.call(m, "shape")) {
                if (!$Array.isArray(m.shape))
                    return "shape: array expected";
                for (var i = 0; i < m.shape.length; ++i) {
                    if (!$util.isInteger(m.shape[i]) && !(m.shape[i] && $util.isInteger(m.shape[i].low) && $util.isInteger(m.shape[i].high)))
                        return "shape: integer|Long[] expected";
                }
            }
            if (m.dtype != null && $Object.hasOwnProperty.call(m, "dtype")) {
                if (!$util.isString(m.dtype))
                    return "dtype: string expected";
            }
            if (m.data != null && $Object.hasOwnProperty.call(m, "data")) {
                if (!(m.data && typeof m.data.length === "number" || $util.isString(m.data)))
                    return "data: buffer expected";
            }
            return null;
        };

        /**
         * Creates a TensorData message from a plain object. Also converts values to their respective internal types.
         * @function fromObject
         * @memberof artist.TensorData
         * @static
         * @param {Object.<string,*>} d Plain object
         * @returns {artist.TensorData} TensorData
         */
        TensorData.fromObject = function (d, q) {
            if (d instanceof $root.artist.TensorData)
                return d;
            if (!$util.isObject(d))
                throw $TypeError(".artist.TensorData: object expected");
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var m = new $root.artist.TensorData();
            if (d.name != null) {
                if (typeof d.name !== "string" || d.name.length) {
                    m.name = $String(d.name);
                }
            }
            if (d.shape) {
                if (!$Array.isArray(d.shape))
                    throw $TypeError(".artist.TensorData.shape: array expected");
                m.shape = $Array(d.shape.length);
                for (var i = 0; i < d.shape.length; ++i) {
                    if ($util.Long)
                        m.shape[i] = $util.Long.fromValue(d.shape[i], false);
                    else if (typeof d.shape[i] === "string")
                        m.shape[i] = $parseInt(d.shape[i], 10);
                    else if (typeof d.shape[i] === "number")
                        m.shape[i] = d.shape[i];
                    else if (typeof d.shape[i] === "object")
                        m.shape[i] = new $util.LongBits(d.shape[i].low >>> 0, d.shape[i].high >>> 0).toNumber();
                }
            }
            if (d.dtype != null) {
                if (typeof d.dtype !== "string" || d.dtype.length) {
                    m.dtype = $String(d.dtype);
                }
            }
            if (d.data != null) {
                if (d.data.length) {
                    if (typeof d.data === "string")
                        $util.base64.decode(d.data, m.data = $util.newBuffer($util.base64.length(d.data)), 0);
                    else if (d.data.length >= 0)
                        m.data = d.data;
                }
            }
            return m;
        };

        /**
         * Creates a plain object from a TensorData message. Also converts values to other types if specified.
         * @function toObject
         * @memberof artist.TensorData
         * @static
         * @param {artist.TensorData} m TensorData
         * @param {$protobuf.IConversionOptions} [o] Conversion options
         * @returns {Object.<string,*>} Plain object
         */
        TensorData.toObject = function (m, o, q) {
            if (!o)
                o = {};
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var d = {};
            if (o.arrays || o.defaults) {
                d.shape = [];
            }
            if (o.defaults) {
                d.name = "";
                d.dtype = "";
                if (o.bytes === $String)
                    d.data = "";
                else {
                    d.data = [];
                    if (o.bytes !== $Array)
                        d.data = $util.newBuffer(d.data);
                }
            }
            if (m.name != null && $Object.hasOwnProperty.call(m, "name")) {
                d.name = m.name;
            }
            if (m.shape && m.shape.length) {
                d.shape = $Array(m.shape.length);
                for (var j = 0; j < m.shape.length; ++j) {
                    if (typeof $BigInt !== "undefined" && o.longs === $BigInt)
                        d.shape[j] = typeof m.shape[j] === "number" ? $BigInt(m.shape[j]) : $util.Long.fromBits(m.shape[j].low >>> 0, m.shape[j].high >>> 0, false).toBigInt();
                    else if (typeof m.shape[j] === "number")
                        d.shape[j] = o.longs === $String ? $String(m.shape[j]) : m.shape[j];
                    else
                        d.shape[j] = o.longs === $String ? $util.Long.prototype.toString.call(m.shape[j]) : o.longs === $Number ? new $util.LongBits(m.shape[j].low >>> 0, m.shape[j].high >>> 0).toNumber() : m.shape[j];
                }
            }
            if (m.dtype != null && $Object.hasOwnProperty.call(m, "dtype")) {
                d.dtype = m.dtype;
            }
            if (m.data != null && $Object.hasOwnProperty.call(m, "data")) {
                d.data = o.bytes === $String ? $util.base64.encode(m.data, 0, m.data.length) : o.bytes === $Array ? $Array.prototype.slice.call(m.data) : m.data;
            }
            return d;
        };

        /**
         * Converts this TensorData to JSON.
         * @function toJSON
         * @memberof artist.TensorData
         * @instance
         * @returns {Object.<string,*>} JSON object
         */
        TensorData.prototype.toJSON = function() {
            return TensorData.toObject(this, $protobuf.util.toJSONOptions);
        };

        /**
         * Gets the type url for TensorData
         * @function getTypeUrl
         * @memberof artist.TensorData
         * @static
         * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns {string} The type url
         */
        TensorData.getTypeUrl = function(prefix) {
            if (prefix === $undefined)
                prefix = "type.googleapis.com";
            return prefix + "/artist.TensorData";
        };

        return TensorData;
    })();

    artist.RngState = (function() {

        /**
         * Properties of a RngState.
         * @typedef {Object} artist.RngState.$Properties
         * @property {string|null} [algorithm] RngState algorithm
         * @property {Array.<number>|null} [words] RngState words
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a RngState.
         * @memberof artist
         * @interface IRngState
         * @augments artist.RngState.$Properties
         * @deprecated Use artist.RngState.$Properties instead.
         */

        /**
         * Shape of a RngState.
         * @typedef {artist.RngState.$Properties} artist.RngState.$Shape
         */

        /**
         * Constructs a new RngState.
         * @memberof artist
         * @classdesc Represents a RngState.
         * @constructor
         * @param {artist.RngState.$Properties=} [p] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        var RngState = function (p) {
            this.words = [];
            if (p)
                for (var ks = $Object.keys(p), i = 0; i < ks.length; ++i)
                    if (p[ks[i]] != null && ks[i] !== "__proto__")
                        this[ks[i]] = p[ks[i]];
        };

        /**
         * RngState algorithm.
         * @member {string} algorithm
         * @memberof artist.RngState
         * @instance
         */
        RngState.prototype.algorithm = "";

        /**
         * RngState words.
         * @member {Array.<number>} words
         * @memberof artist.RngState
         * @instance
         */
        RngState.prototype.words = $util.emptyArray;

        /**
         * Creates a new RngState instance using the specified properties.
         * @function create
         * @memberof artist.RngState
         * @static
         * @param {artist.RngState.$Properties=} [properties] Properties to set
         * @returns {artist.RngState} RngState instance
         * @type {{
         *   (properties: artist.RngState.$Shape): artist.RngState & artist.RngState.$Shape;
         *   (properties?: artist.RngState.$Properties): artist.RngState;
         * }}
         */
        RngState.create = function(properties) {
            return new RngState(properties);
        };

        /**
         * Encodes the specified RngState message. Does not implicitly {@link artist.RngState.verify|verify} messages.
         * @function encode
         * @memberof artist.RngState
         * @static
         * @param {artist.RngState.$Properties} m RngState message or plain object to encode
         * @param {$protobuf.Writer} [w] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        RngState.encode = function (m, w, q) {
            if (!w)
                w = $Writer.create();
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (m.algorithm != null && $Object.hasOwnProperty.call(m, "algorithm") && m.algorithm !== "")
                w.uint32(/* id 1, wireType 2 =*/10).string(m.algorithm);
            if (m.words != null && m.words.length) {
                w.uint32(/* id 2, wireType 2 =*/18).uint32s(m.words);
            }
            if (m.$unknowns != null && $Object.hasOwnProperty.call(m, "$unknowns"))
                for (var i = 0; i < m.$unknowns.length; ++i)
                    w.raw(m.$unknowns[i]);
            return w;
        };

        /**
         * Encodes the specified RngState message, length delimited. Does not implicitly {@link artist.RngState.verify|verify} messages.
         * @function encodeDelimited
         * @memberof artist.RngState
         * @static
         * @param {artist.RngState.$Properties} message RngState message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        RngState.encodeDelimited = function(message, writer) {
            return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
        };

        /**
         * Decodes a RngState message from the specified reader or buffer.
         * @function decode
         * @memberof artist.RngState
         * @static
         * @param {$protobuf.Reader|Uint8Array} r Reader or buffer to decode from
         * @param {number} [l] Message length if known beforehand
         * @returns {artist.RngState & artist.RngState.$Shape} RngState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        RngState.decode = function (r, l, z, q, g) {
            if (!(r instanceof $Reader))
                r = $Reader.create(r);
            if (q === $undefined)
                q = 0;
            if (q > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var c, m, v;
            if (l === $undefined)
                c = r.len;
            else {
                c = r.pos + l;
                if (c > r.len)
                    throw $RangeError("index out of range");
                l = r.len;
                r.len = c;
            }
            m = g || new $root.artist.RngState();
            while (r.pos < c) {
                var s = r.pos;
                var t = r.tag();
                if (t === z) {
                    z = $undefined;
                    break;
                }
                var u = t & 7;
                switch (t >>>= 3) {
                case 1: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.algorithm = v;
                        else
                            delete m.algorithm;
                        continue;
                    }
                case 2: {
                        if (u === 2) {
                            if (!(m.words && m.words.length))
                                m.words = [];
                            r.uint32s(m.words);
                            continue;
                        }
                        if (u !== 0)
                            break;
                        if (!(m.words && m.words.length))
                            m.words = [];
                        m.words.push(r.uint32());
                        continue;
                    }
                }
                r.skipType(u, q, t);
                if (!r.discardUnknown) {
                    $util.makeProp(m, "$unknowns", false);
                    (m.$unknowns || (m.$unknowns = [])).push(r.raw(s, r.pos));
                }
            }
            if (l !== $undefined) {
                if (r.pos !== c)
                    throw $RangeError("index out of range");
                r.len = l;
            }
            if (z !== $undefined)
                throw $Error("missing end group");
            return m;
        };

        /**
         * Decodes a RngState message from the specified reader or buffer, length delimited.
         * @function decodeDelimited
         * @memberof artist.RngState
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @returns {artist.RngState & artist.RngState.$Shape} RngState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        RngState.decodeDelimited = function(reader) {
            if (!(reader instanceof $Reader))
                reader = new $Reader(reader);
            return this.decode(reader, reader.size());
        };

        /**
         * Verifies a RngState message.
         * @function verify
         * @memberof artist.RngState
         * @static
         * @param {Object.<string,*>} m Plain object to verify
         * @returns {string|null} `null` if valid, otherwise the reason why it is not
         */
        RngState.verify = function (m, q) {
            if (typeof m !== "object" || m === null)
                return "object expected";
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                return "max depth exceeded";
            if (m.algorithm != null && $Object.hasOwnProperty.call(m, "algorithm")) {
                if (!$util.isString(m.algorithm))
                    return "algorithm: string expected";
            }
            if (m.words != null && $Object.hasOwnProperty.call(m, "words")) {
                if (!$Array.isArray(m.words))
                    return "words: array expected";
                for (var i = 0; i < m.words.length; ++i) {
                    if (!$util.isInteger(m.words[i]))
                        return "words: integer[] expected";
                }
            }
            return null;
        };

        /**
         * Creates a RngState message from a plain object. Also converts values to their respective internal types.
         * @function fromObject
         * @memberof artist.RngState
         * @static
         * @param {Object.<string,*>} d Plain object
         * @returns {artist.RngState} RngState
         */
        RngState.fromObject = function (d, q) {
            if (d instanceof $root.artist.RngState)
                return d;
            if (!$util.isObject(d))
                throw $TypeError(".artist.RngState: object expected");
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var m = new $root.artist.RngState();
            if (d.algorithm != null) {
                if (typeof d.algorithm !== "string" || d.algorithm.length) {
                    m.algorithm = $String(d.algorithm);
                }
            }
            if (d.words) {
                if (!$Array.isArray(d.words))
                    throw $TypeError(".artist.RngState.words: array expected");
                m.words = $Array(d.words.length);
                for (var i = 0; i < d.words.length; ++i) {
                    m.words[i] = d.words[i] >>> 0;
                }
            }
            return m;
        };

        /**
         * Creates a plain object from a RngState message. Also converts values to other types if specified.
         * @function toObject
         * @memberof artist.RngState
         * @static
         * @param {artist.RngState} m RngState
         * @param {$protobuf.IConversionOptions} [o] Conversion options
         * @returns {Object.<string,*>} Plain object
         */
        RngState.toObject = function (m, o, q) {
            if (!o)
                o = {};
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var d = {};
            if (o.arrays || o.defaults) {
                d.words = [];
            }
            if (o.defaults) {
                d.algorithm = "";
            }
            if (m.algorithm != null && $Object.hasOwnProperty.call(m, "algorithm")) {
                d.algorithm = m.algorithm;
            }
            if (m.words && m.words.length) {
                d.words = $Array(m.words.length);
                for (var j = 0; j < m.words.length; ++j) {
                    d.words[j] = m.words[j];
                }
            }
            return d;
        };

        /**
         * Converts this RngState to JSON.
         * @function toJSON
         * @memberof artist.RngState
         * @instance
         * @returns {Object.<string,*>} JSON object
         */
        RngState.prototype.toJSON = function() {
            return RngState.toObject(this, $protobuf.util.toJSONOptions);
        };

        /**
         * Gets the type url for RngState
         * @function getTypeUrl
         * @memberof artist.RngState
         * @static
         * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns {string} The type url
         */
        RngState.getTypeUrl = function(prefix) {
            if (prefix === $undefined)
                prefix = "type.googleapis.com";
            return prefix + "/artist.RngState";
        };

        return RngState;
    })();

    artist.TrainerState = (function() {

        /**
         * Properties of a TrainerState.
         * @typedef {Object} artist.TrainerState.$Properties
         * @property {number|null} [formatVersion] TrainerState formatVersion
         * @property {number|null} [step] TrainerState step
         * @property {number|null} [epoch] TrainerState epoch
         * @property {boolean|null} [hasBestMetric] TrainerState hasBestMetric
         * @property {number|null} [bestMetric] TrainerState bestMetric
         * @property {string|null} [optimizerName] TrainerState optimizerName
         * @property {Array.<artist.TensorData.$Properties>|null} [optimizerSlots] TrainerState optimizerSlots
         * @property {Object.<string,artist.RngState.$Properties>|null} [rng] TrainerState rng
         * @property {number|null} [dataCursor] TrainerState dataCursor
         * @property {string|null} [configJson] TrainerState configJson
         * @property {string|null} [extraJson] TrainerState extraJson
         * @property {string|null} [createdAt] TrainerState createdAt
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a TrainerState.
         * @memberof artist
         * @interface ITrainerState
         * @augments artist.TrainerState.$Properties
         * @deprecated Use artist.TrainerState.$Properties instead.
         */

        /**
         * Shape of a TrainerState.
         * @typedef {artist.TrainerState.$Properties} artist.TrainerState.$Shape
         */

        /**
         * Constructs a new TrainerState.
         * @memberof artist
         * @classdesc Represents a TrainerState.
         * @constructor
         * @param {artist.TrainerState.$Properties=} [p] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        var TrainerState = function (p) {
            this.optimizerSlots = [];
            this.rng = {};
            if (p)
                for (var ks = $Object.keys(p), i = 0; i < ks.length; ++i)
                    if (p[ks[i]] != null && ks[i] !== "__proto__")
                        this[ks[i]] = p[ks[i]];
        };

        /**
         * TrainerState formatVersion.
         * @member {number} formatVersion
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.formatVersion = 0;

        /**
         * TrainerState step.
         * @member {number} step
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.step = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * TrainerState epoch.
         * @member {number} epoch
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.epoch = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * TrainerState hasBestMetric.
         * @member {boolean} hasBestMetric
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.hasBestMetric = false;

        /**
         * TrainerState bestMetric.
         * @member {number} bestMetric
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.bestMetric = 0;

        /**
         * TrainerState optimizerName.
         * @member {string} optimizerName
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.optimizerName = "";

        /**
         * TrainerState optimizerSlots.
         * @member {Array.<artist.TensorData.$Properties>} optimizerSlots
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.optimizerSlots = $util.emptyArray;

        /**
         * TrainerState rng.
         * @member {Object.<string,artist.RngState.$Properties>} rng
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.rng = $util.emptyObject;

        /**
         * TrainerState dataCursor.
         * @member {number} dataCursor
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.dataCursor = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * TrainerState configJson.
         * @member {string} configJson
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.configJson = "";

        /**
         * TrainerState extraJson.
         * @member {string} extraJson
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.extraJson = "";

        /**
         * TrainerState createdAt.
         * @member {string} createdAt
         * @memberof artist.TrainerState
         * @instance
         */
        TrainerState.prototype.createdAt = "";

        /**
         * Creates a new TrainerState instance using the specified properties.
         * @function create
         * @memberof artist.TrainerState
         * @static
         * @param {artist.TrainerState.$Properties=} [properties] Properties to set
         * @returns {artist.TrainerState} TrainerState instance
         * @type {{
         *   (properties: artist.TrainerState.$Shape): artist.TrainerState & artist.TrainerState.$Shape;
         *   (properties?: artist.TrainerState.$Properties): artist.TrainerState;
         * }}
         */
        TrainerState.create = function(properties) {
            return new TrainerState(properties);
        };

        /**
         * Encodes the specified TrainerState message. Does not implicitly {@link artist.TrainerState.verify|verify} messages.
         * @function encode
         * @memberof artist.TrainerState
         * @static
         * @param {artist.TrainerState.$Properties} m TrainerState message or plain object to encode
         * @param {$protobuf.Writer} [w] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        TrainerState.encode = function (m, w, q) {
            if (!w)
                w = $Writer.create();
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (m.formatVersion != null && $Object.hasOwnProperty.call(m, "formatVersion") && m.formatVersion !== 0)
                w.uint32(/* id 1, wireType 0 =*/8).uint32(m.formatVersion);
            if (m.step != null && $Object.hasOwnProperty.call(m, "step") && (typeof m.step === "object" ? m.step.low || m.step.high : m.step !== 0))
                w.uint32(/* id 2, wireType 0 =*/16).int64(m.step);
            if (m.epoch != null && $Object.hasOwnProperty.call(m, "epoch") && (typeof m.epoch === "object" ? m.epoch.low || m.epoch.high : m.epoch !== 0))
                w.uint32(/* id 3, wireType 0 =*/24).int64(m.epoch);
            if (m.hasBestMetric != null && $Object.hasOwnProperty.call(m, "hasBestMetric") && m.hasBestMetric !== false)
                w.uint32(/* id 4, wireType 0 =*/32).bool(m.hasBestMetric);
            if (m.bestMetric != null && $Object.hasOwnProperty.call(m, "bestMetric") && !$Object.is(m.bestMetric, 0))
                w.uint32(/* id 5, wireType 1 =*/41).double(m.bestMetric);
            if (m.optimizerName != null && $Object.hasOwnProperty.call(m, "optimizerName") && m.optimizerName !== "")
                w.uint32(/* id 6, wireType 2 =*/50).string(m.optimizerName);
            if (m.optimizerSlots != null && m.optimizerSlots.length) {
                for (var i = 0; i < m.optimizerSlots.length; ++i)
                    $root.artist.TensorData.encode(m.optimizerSlots[i], w.uint32(/* id 7, wireType 2 =*/58).fork(), q + 1).ldelim();
            }
            if (m.rng != null && $Object.hasOwnProperty.call(m, "rng")) {
                for (var ks = $Object.keys(m.rng), i = 0; i < ks.length; ++i) {
                    w.uint32(/* id 8, wireType 2 =*/66).fork().uint32(/* id 1, wireType 2 =*/10).string(ks[i]);
                    $root.artist.RngState.encode(m.rng[ks[i]], w.uint32(/* id 2, wireType 2 =*/18).fork(), q + 1).ldelim().ldelim();
                }
            }
            if (m.dataCursor != null && $Object.hasOwnProperty.call(m, "dataCursor") && (typeof m.dataCursor === "object" ? m.dataCursor.low || m.dataCursor.high : m.dataCursor !== 0))
                w.uint32(/* id 9, wireType 0 =*/72).int64(m.dataCursor);
            if (m.configJson != null && $Object.hasOwnProperty.call(m, "configJson") && m.configJson !== "")
                w.uint32(/* id 10, wireType 2 =*/82).string(m.configJson);
            if (m.extraJson != null && $Object.hasOwnProperty.call(m, "extraJson") && m.extraJson !== "")
                w.uint32(/* id 11, wireType 2 =*/90).string(m.extraJson);
            if (m.createdAt != null && $Object.hasOwnProperty.call(m, "createdAt") && m.createdAt !== "")
                w.uint32(/* id 12, wireType 2 =*/98).string(m.createdAt);
            if (m.$unknowns != null && $Object.hasOwnProperty.call(m, "$unknowns"))
                for (var i = 0; i < m.$unknowns.length; ++i)
                    w.raw(m.$unknowns[i]);
            return w;
        };

        /**
         * Encodes the specified TrainerState message, length delimited. Does not implicitly {@link artist.TrainerState.verify|verify} messages.
         * @function encodeDelimited
         * @memberof artist.TrainerState
         * @static
         * @param {artist.TrainerState.$Properties} message TrainerState message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        TrainerState.encodeDelimited = function(message, writer) {
            return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
        };

        /**
         * Decodes a TrainerState message from the specified reader or buffer.
         * @function decode
         * @memberof artist.TrainerState
         * @static
         * @param {$protobuf.Reader|Uint8Array} r Reader or buffer to decode from
         * @param {number} [l] Message length if known beforehand
         * @returns {artist.TrainerState & artist.TrainerState.$Shape} TrainerState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        TrainerState.decode = function (r, l, z, q, g) {
            if (!(r instanceof $Reader))
                r = $Reader.create(r);
            if (q === $undefined)
                q = 0;
            if (q > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var c, m, k, v;
            if (l === $undefined)
                c = r.len;
            else {
                c = r.pos + l;
                if (c > r.len)
                    throw $RangeError("index out of range");
                l = r.len;
                r.len = c;
            }
            m = g || new $root.artist.TrainerState();
            while (r.pos < c) {
                var s = r.pos;
                var t = r.tag();
                if (t === z) {
                    z = $undefined;
                    break;
                }
                var u = t & 7;
                switch (t >>>= 3) {
                case 1: {
                        if (u !== 0)
                            break;
                        if (v = r.uint32())
                            m.formatVersion = v;
                        else
                            delete m.formatVersion;
                        continue;
                    }
                case 2: {
                        if (u !== 0)
                            break;
                        if (typeof (v = r.int64()) === "object" ? v.low || v.high : v !== 0)
                            m.step = v;
                        else
                            delete m.step;
                        continue;
                    }
                case 3: {
                        if (u !== 0)
                            break;
                        if (typeof (v = r.int64()) === "object" ? v.low || v.high : v !== 0)
                            m.epoch = v;
                        else
                            delete m.epoch;
                        continue;
                    }
                case 4: {
                        if (u !== 0)
                            break;
                        if (v = r.bool())
                            m.hasBestMetric = v;
                        else
                            delete m.hasBestMetric;
                        continue;
                    }
                case 5: {
                        if (u !== 1)
                            break;
                        if (!$Object.is(v = r.double(), 0))
                            m.bestMetric = v;
                        else
                            delete m.bestMetric;
                        continue;
                    }
                case 6: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.optimizerName = v;
                        else
                            delete m.optimizerName;
                        continue;
                    }
                case 7: {
                        if (u !== 2)
                            break;
                        if (!(m.optimizerSlots && m.optimizerSlots.length))
                            m.optimizerSlots = [];
                        m.optimizerSlots.push($root.artist.TensorData.decode(r, r.size(), $undefined, q + 1));
                        continue;
                    }
                case 8: {
                        if (u !== 2)
                            break;
                        if (m.rng === $util.emptyObject)
                            m.rng = {};
                        var c2 = r.size() + r.pos;
                        if (c2 > r.len)
                            throw $RangeError("index out of range");
                        r.len = c2;
                        k = "";
                        v = null;
                        while (r.pos < c2) {
                            var t2 = r.tag();
                            u = t2 & 7;
                            switch (t2 >>>= 3) {
                            case 1:
                                if (u !== 2)
                                    break;
                                k = r.stringVerify();
                                continue;
                            case 2:
                                if (u !== 2)
                                    break;
                                v = $root.artist.RngState.decode(r, r.size(), $undefined, q + 1, v);
                                continue;
                            }
                            r.skipType(u, q, t2);
                        }
                        if (r.pos !== c2)
                            throw $RangeError("index out of range");
                        r.len = c;
                        if (k === "__proto__")
                            $util.makeProp(m.rng, k);
                        m.rng[k] = v || new $root.artist.RngState();
                        continue;
                    }
                case 9: {
                        if (u !== 0)
                            break;
                        if (typeof (v = r.int64()) === "object" ? v.low || v.high : v !== 0)
                            m.dataCursor = v;
                        else
                            delete m.dataCursor;
                        continue;
                    }
                case 10: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.configJson = v;
                        else
                            delete m.configJson;
                        continue;
                    }
                case 11: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.extraJson = v;
                        else
                            delete m.extraJson;
                        continue;
                    }
                case 12: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.createdAt = v;
                        else
                            delete m.createdAt;
                        continue;
                    }
                }
                r.skipType(u, q, t);
                if (!r.discardUnknown) {
                    $util.makeProp(m, "$unknowns", false);
                    (m.$unknowns || (m.$unknowns = [])).push(r.raw(s, r.pos));
                }
            }
            if (l !== $undefined) {
                if (r.pos !== c)
                    throw $RangeError("index out of range");
                r.len = l;
            }
            if (z !== $undefined)
                throw $Error("missing end group");
            return m;
        };

        /**
         * Decodes a TrainerState message from the specified reader or buffer, length delimited.
         * @function decodeDelimited
         * @memberof artist.TrainerState
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @returns {artist.TrainerState & artist.TrainerState.$Shape} TrainerState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        TrainerState.decodeDelimited = function(reader) {
            if (!(reader instanceof $Reader))
                reader = new $Reader(reader);
            return this.decode(reader, reader.size());
        };

        /**
         * Verifies a TrainerState message.
         * @function verify
         * @memberof artist.TrainerState
         * @static
         * @param {Object.<string,*>} m Plain object to verify
         * @returns {string|null} `null` if valid, otherwise the reason why it is not
         */
        TrainerState.verify = function (m, q) {
            if (typeof m !== "object" || m === null)
                return "object expected";
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                return "max depth exceeded";
            if (m.formatVersion != null && $Object.hasOwnProperty.call(m, "formatVersion")) {
                if (!$util.isInteger(m.formatVersion))
                    return "formatVersion: integer expected";
            }
            if (m.step != null && $Object.hasOwnProperty.call(m, "step")) {
                if (!$util.isInteger(m.step) && !(m.step && $util.isInteger(m.step.low) && $util.isInteger(m.step.high)))
                    return "step: integer|Long expected";
            }
            if (m.epoch != null && $Object.hasOwnProperty.call(m, "epoch")) {
                if (!$util.isInteger(m.epoch) && !(m.epoch && $util.isInteger(m.epoch.low) && $util.isInteger(m.epoch.high)))
                    return "epoch: integer|Long expected";
            }
            if (m.hasBestMetric != null && $Object.hasOwnProperty.call(m, "hasBestMetric")) {
                if (typeof m.hasBestMetric !== "boolean")
                    return "hasBestMetric: boolean expected";
            }
            if (m.bestMetric != null && $Object.hasOwnProperty.call(m, "bestMetric")) {
                if (typeof m.bestMetric !== "number")
                    return "bestMetric: number expected";
            }
            if (m.optimizerName != null && $Object.hasOwnProperty.call(m, "optimizerName")) {
                if (!$util.isString(m.optimizerName))
                    return "optimizerName: string expected";
            }
            if (m.optimizerSlots != null && $Object.hasOwnProperty.call(m, "optimizerSlots")) {
                if (!$Array.isArray(m.optimizerSlots))
                    return "optimizerSlots: array expected";
                for (var i = 0; i < m.optimizerSlots.length; ++i) {
                    {
                        var e = $root.artist.TensorData.verify(m.optimizerSlots[i], q + 1);
                        if (e)
                            return "optimizerSlots." + e;
                    }
                }
            }
            if (m.rng != null && $Object.hasOwnProperty.call(m, "rng")) {
                if (!$util.isObject(m.rng))
                    return "rng: object expected";
                var k = $Object.keys(m.rng);
                for (var i = 0; i < k.length; ++i) {
                    {
                        var e = $root.artist.RngState.verify(m.rng[k[i]], q + 1);
                        if (e)
                            return "rng." + e;
                    }
                }
            }
            if (m.dataCursor != null && $Object.hasOwnProperty.call(m, "dataCursor")) {
                if (!$util.isInteger(m.dataCursor) && !(m.dataCursor && $util.isInteger(m.dataCursor.low) && $util.isInteger(m.dataCursor.high)))
                    return "dataCursor: integer|Long expected";
            }
            if (m.configJson != null && $Object.hasOwnProperty.call(m, "configJson")) {
                if (!$util.isString(m.configJson))
                    return "configJson: string expected";
            }
            if (m.extraJson != null && $Object.hasOwnProperty.call(m, "extraJson")) {
                if (!$util.isString(m.extraJson))
                    return "extraJson: string expected";
            }
            if (m.createdAt != null && $Object.hasOwnProperty.call(m, "createdAt")) {
                if (!$util.isString(m.createdAt))
                    return "createdAt: string expected";
            }
            return null;
        };

        /**
         * Creates a TrainerState message from a plain object. Also converts values to their respective internal types.
         * @function fromObject
         * @memberof artist.TrainerState
         * @static
         * @param {Object.<string,*>} d Plain object
         * @returns {artist.TrainerState} TrainerState
         */
        TrainerState.fromObject = function (d, q) {
            if (d instanceof $root.artist.TrainerState)
                return d;
            if (!$util.isObject(d))
                throw $TypeError(".artist.TrainerState: object expected");
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var m = new $root.artist.TrainerState();
            if (d.formatVersion != null) {
                if ($Number(d.formatVersion) !== 0) {
                    m.formatVersion = d.formatVersion >>> 0;
                }
            }
            if (d.step != null) {
                if (typeof d.step === "object" ? d.step.low || d.step.high : $Number(d.step) !== 0) {
                    if ($util.Long)
                        m.step = $util.Long.fromValue(d.step, false);
                    else if (typeof d.step === "string")
                        m.step = $parseInt(d.step, 10);
                    else if (typeof d.step === "number")
                        m.step = d.step;
                    else if (typeof d.step === "object")
                        m.step = new $util.LongBits(d.step.low >>> 0, d.step.high >>> 0).toNumber();
                }
            }
            if (d.epoch != null) {
                if (typeof d.epoch === "object" ? d.epoch.low || d.epoch.high : $Number(d.epoch) !== 0) {
                    if ($util.Long)
                        m.epoch = $util.Long.fromValue(d.epoch, false);
                    else if (typeof d.epoch === "string")
                        m.epoch = $parseInt(d.epoch, 10);
                    else if (typeof d.epoch === "number")
                        m.epoch = d.epoch;
                    else if (typeof d.epoch === "object")
                        m.epoch = new $util.LongBits(d.epoch.low >>> 0, d.epoch.high >>> 0).toNumber();
                }
            }
            if (d.hasBestMetric != null) {
                if (d.hasBestMetric) {
                    m.hasBestMetric = $Boolean(d.hasBestMetric);
                }
            }
            if (d.bestMetric != null) {
                if (!$Object.is($Number(d.bestMetric), 0)) {
                    m.bestMetric = $Number(d.bestMetric);
                }
            }
            if (d.optimizerName != null) {
                if (typeof d.optimizerName !== "string" || d.optimizerName.length) {
                    m.optimizerName = $String(d.optimizerName);
                }
            }
            if (d.optimizerSlots) {
                if (!$Array.isArray(d.optimizerSlots))
                    throw $TypeError(".artist.TrainerState.optimizerSlots: array expected");
                m.optimizerSlots = $Array(d.optimizerSlots.length);
                for (var i = 0; i < d.optimizerSlots.length; ++i) {
                    if (!$util.isObject(d.optimizerSlots[i]))
                        throw $TypeError(".artist.TrainerState.optimizerSlots: object expected");
                    m.optimizerSlots[i] = $root.artist.TensorData.fromObject(d.optimizerSlots[i], q + 1);
                }
            }
            if (d.rng) {
                if (!$util.isObject(d.rng))
                    throw $TypeError(".artist.TrainerState.rng: object expected");
                m.rng = {};
                for (var ks = $Object.keys(d.rng), i = 0; i < ks.length; ++i) {
                    if (ks[i] === "__proto__")
                        $util.makeProp(m.rng, ks[i]);
                    if (!$util.isObject(d.rng[ks[i]]))
                        throw $TypeError(".artist.TrainerState.rng: object expected");
                    m.rng[ks[i]] = $root.artist.RngState.fromObject(d.rng[ks[i]], q + 1);
                }
            }
            if (d.dataCursor != null) {
                if (typeof d.dataCursor === "object" ? d.dataCursor.low || d.dataCursor.high : $Number(d.dataCursor) !== 0) {
                    if ($util.Long)
                        m.dataCursor = $util.Long.fromValue(d.dataCursor, false);
                    else if (typeof d.dataCursor === "string")
                        m.dataCursor = $parseInt(d.dataCursor, 10);
                    else if (typeof d.dataCursor === "number")
                        m.dataCursor = d.dataCursor;
                    else if (typeof d.dataCursor === "object")
                        m.dataCursor = new $util.LongBits(d.dataCursor.low >>> 0, d.dataCursor.high >>> 0).toNumber();
                }
            }
            if (d.configJson != null) {
                if (typeof d.configJson !== "string" || d.configJson.length) {
                    m.configJson = $String(d.configJson);
                }
            }
            if (d.extraJson != null) {
                if (typeof d.extraJson !== "string" || d.extraJson.length) {
                    m.extraJson = $String(d.extraJson);
                }
            }
            if (d.createdAt != null) {
                if (typeof d.createdAt !== "string" || d.createdAt.length) {
                    m.createdAt = $String(d.createdAt);
                }
            }
            return m;
        };

        /**
         * Creates a plain object from a TrainerState message. Also converts values to other types if specified.
         * @function toObject
         * @memberof artist.TrainerState
         * @static
         * @param {artist.TrainerState} m TrainerState
         * @param {$protobuf.IConversionOptions} [o] Conversion options
         * @returns {Object.<string,*>} Plain object
         */
        TrainerState.toObject = function (m, o, q) {
            if (!o)
                o = {};
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var d = {};
            if (o.arrays || o.defaults) {
                d.optimizerSlots = [];
            }
            if (o.objects || o.defaults) {
                d.rng = {};
            }
            if (o.defaults) {
                d.formatVersion = 0;
                if ($util.Long) {
                    var n = new $util.Long(0, 0, false);
                    d.step = o.longs === $String ? n.toString() : o.longs === $Number ? n.toNumber() : typeof $BigInt !== "undefined" && o.longs === $BigInt ? n.toBigInt() : n;
                } else
                    d.step = o.longs === $String ? "0" : typeof $BigInt !== "undefined" && o.longs === $BigInt ? $BigInt("0") : 0;
                if ($util.Long) {
                    var n = new $util.Long(0, 0, false);
                    d.epoch = o.longs === $String ? n.toString() : o.longs === $Number ? n.toNumber() : typeof $BigInt !== "undefined" && o.longs === $BigInt ? n.toBigInt() : n;
                } else
                    d.epoch = o.longs === $String ? "0" : typeof $BigInt !== "undefined" && o.longs === $BigInt ? $BigInt("0") : 0;
                d.hasBestMetric = false;
                d.bestMetric = 0;
                d.optimizerName = "";
                if ($util.Long) {
                    var n = new $util.Long(0, 0, false);
                    d.dataCursor = o.longs === $String ? n.toString() : o.longs === $Number ? n.toNumber() : typeof $BigInt !== "undefined" && o.longs === $BigInt ? n.toBigInt() : n;
                } else
                    d.dataCursor = o.longs === $String ? "0" : typeof $BigInt !== "undefined" && o.longs === $BigInt ? $BigInt("0") : 0;
                d.configJson = "";
                d.extraJson = "";
                d.createdAt = "";
            }
            if (m.formatVersion != null && $Object.hasOwnProperty.call(m, "formatVersion")) {
                d.formatVersion = m.formatVersion;
            }
            if (m.step != null && $Object.hasOwnProperty.call(m, "step")) {
                if (typeof $BigInt !== "undefined" && o.longs === $BigInt)
                    d.step = typeof m.step === "number" ? $BigInt(m.step) : $util.Long.fromBits(m.step.low >>> 0, m.step.high >>> 0, false).toBigInt();
                else if (typeof m.step === "number")
                    d.step = o.longs === $String ? $String(m.step) : m.step;
                else
                    d.step = o.longs === $String ? $util.Long.prototype.toString.call(m.step) : o.longs === $Number ? new $util.LongBits(m.step.low >>> 0, m.step.high >>> 0).toNumber() : m.step;
            }
            if (m.epoch != null && $Object.hasOwnProperty.call(m, "epoch")) {
                if (typeof $BigInt !== "undefined" && o.longs === $BigInt)
                    d.epoch = typeof m.epoch === "number" ? $BigInt(m.epoch) : $util.Long.fromBits(m.epoch.low >>> 0, m.epoch.high >>> 0, false).toBigInt();
                else if (typeof m.epoch === "number")
                    d.epoch = o.longs === $String ? $String(m.epoch) : m.epoch;
                else
                    d.epoch = o.longs === $String ? $util.Long.prototype.toString.call(m.epoch) : o.longs === $Number ? new $util.LongBits(m.epoch.low >>> 0, m.epoch.high >>> 0).toNumber() : m.epoch;
            }
            if (m.hasBestMetric != null && $Object.hasOwnProperty.call(m, "hasBestMetric")) {
                d.hasBestMetric = m.hasBestMetric;
            }
            if (m.bestMetric != null && $Object.hasOwnProperty.call(m, "bestMetric")) {
                d.bestMetric = o.json && !$isFinite(m.bestMetric) ? $String(m.bestMetric) : m.bestMetric;
            }
            if (m.optimizerName != null && $Object.hasOwnProperty.call(m, "optimizerName")) {
                d.optimizerName = m.optimizerName;
            }
            if (m.optimizerSlots && m.optimizerSlots.length) {
                d.optimizerSlots = $Array(m.optimizerSlots.length);
                for (var j = 0; j < m.optimizerSlots.length; ++j) {
                    d.optimizerSlots[j] = $root.artist.TensorData.toObject(m.optimizerSlots[j], o, q + 1);
                }
            }
            var ks2;
            if (m.rng && (ks2 = $Object.keys(m.rng)).length) {
                d.rng = {};
                for (var j = 0; j < ks2.length; ++j) {
                    if (ks2[j] === "__proto__")
                        $util.makeProp(d.rng, ks2[j]);
                    d.rng[ks2[j]] = $root.artist.RngState.toObject(m.rng[ks2[j]], o, q + 1);
                }
            }
            if (m.dataCursor != null && $Object.hasOwnProperty.call(m, "dataCursor")) {
                if (typeof $BigInt !== "undefined" && o.longs === $BigInt)
                    d.dataCursor = typeof m.dataCursor === "number" ? $BigInt(m.dataCursor) : $util.Long.fromBits(m.dataCursor.low >>> 0, m.dataCursor.high >>> 0, false).toBigInt();
                else if (typeof m.dataCursor === "number")
                    d.dataCursor = o.longs === $String ? $String(m.dataCursor) : m.dataCursor;
                else
                    d.dataCursor = o.longs === $String ? $util.Long.prototype.toString.call(m.dataCursor) : o.longs === $Number ? new $util.LongBits(m.dataCursor.low >>> 0, m.dataCursor.high >>> 0).toNumber() : m.dataCursor;
            }
            if (m.configJson != null && $Object.hasOwnProperty.call(m, "configJson")) {
                d.configJson = m.configJson;
            }
            if (m.extraJson != null && $Object.hasOwnProperty.call(m, "extraJson")) {
                d.extraJson = m.extraJson;
            }
            if (m.createdAt != null && $Object.hasOwnProperty.call(m, "createdAt")) {
                d.createdAt = m.createdAt;
            }
            return d;
        };

        /**
         * Converts this TrainerState to JSON.
         * @function toJSON
         * @memberof artist.TrainerState
         * @instance
         * @returns {Object.<string,*>} JSON object
         */
        TrainerState.prototype.toJSON = function() {
            return TrainerState.toObject(this, $protobuf.util.toJSONOptions);
        };

        /**
         * Gets the type url for TrainerState
         * @function getTypeUrl
         * @memberof artist.TrainerState
         * @static
         * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns {string} The type url
         */
        TrainerState.getTypeUrl = function(prefix) {
            if (prefix === $undefined)
                prefix = "type.googleapis.com";
            return prefix + "/artist.TrainerState";
        };

        return TrainerState;
    })();

    return artist;
})();

module.exports = $root;
