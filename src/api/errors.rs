//! The error every layer reports, and the table of documented WeChat error codes with hints.
//!
//! Errors reach scripts as catchable maps `#{kind, api, errcode, errmsg, hint, ...}`; the
//! conversion lives in `runtime`. Hints come from the documents' error tables, in Chinese and
//! English.

use std::fmt;

/// The class of a failure, as scripts see it in `e.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// WeChat answered with a non-zero errcode.
    Api,
    /// The script's arguments failed a check; nothing was sent.
    Input,
    /// The request did not complete or the answer was not the documented JSON.
    Network,
    /// No credentials, or the credentials were refused.
    Auth,
    /// A local file problem.
    Io,
    /// Waiting for something timed out.
    Timeout,
    /// The script was started with arguments it does not take (`usage(message)`); `run` exits 2.
    Usage,
    /// The run was interrupted (Ctrl-C); never reaches a script's catch.
    Cancelled,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Api => "api",
            ErrorKind::Input => "input",
            ErrorKind::Network => "network",
            ErrorKind::Auth => "auth",
            ErrorKind::Io => "io",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Usage => "usage",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// A failure of one call, carrying everything the script-facing error map holds.
#[derive(Debug, Clone, PartialEq)]
pub struct WxError {
    pub kind: ErrorKind,
    /// The endpoint path (`wxa/add_store`), or the function for local errors.
    pub api: String,
    pub errcode: Option<i64>,
    pub errmsg: String,
    pub hint: String,
    /// The request field at fault (input errors).
    pub field: Option<String>,
    /// The local file at fault (io errors).
    pub path: Option<String>,
}

impl WxError {
    pub fn new(kind: ErrorKind, api: impl Into<String>, errmsg: impl Into<String>) -> Self {
        WxError {
            kind,
            api: api.into(),
            errcode: None,
            errmsg: errmsg.into(),
            hint: String::new(),
            field: None,
            path: None,
        }
    }

    /// WeChat answered `errcode`; the hint comes from the documented table.
    pub fn api(api: impl Into<String>, errcode: i64, errmsg: impl Into<String>) -> Self {
        WxError {
            errcode: Some(errcode),
            hint: hint(errcode).unwrap_or_default(),
            ..WxError::new(ErrorKind::Api, api, errmsg)
        }
    }

    pub fn input(api: impl Into<String>, field: impl Into<String>, errmsg: impl Into<String>) -> Self {
        WxError { field: Some(field.into()), ..WxError::new(ErrorKind::Input, api, errmsg) }
    }

    pub fn io(api: impl Into<String>, path: impl Into<String>, errmsg: impl Into<String>) -> Self {
        WxError { path: Some(path.into()), ..WxError::new(ErrorKind::Io, api, errmsg) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
}

impl fmt::Display for WxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errcode {
            Some(c) => write!(f, "{} error from {}: {} {}", self.kind.as_str(), self.api, c, self.errmsg),
            None => write!(f, "{} error in {}: {}", self.kind.as_str(), self.api, self.errmsg),
        }
    }
}

impl std::error::Error for WxError {}

/// What the client does when a call answers a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The answer stands: the error reaches the script.
    Never,
    /// The server is busy or rate-limited: try again after a back-off (and, for 45009, slower).
    Backoff,
    /// The access token is invalid or expired: fetch a new one once and send again.
    Refresh,
}

/// One documented error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: i64,
    /// The documents' Chinese text.
    pub zh: &'static str,
    /// What it means for a script, in English.
    pub en: &'static str,
    /// The errmsg WeChat puts on the wire, where it is not the Chinese text (the platform-wide
    /// codes answer in English).
    pub wire: &'static str,
    pub retry: Retry,
}

const fn code(code: i64, zh: &'static str, en: &'static str) -> Code {
    Code { code, zh, en, wire: "", retry: Retry::Never }
}

impl Code {
    const fn wire(self, wire: &'static str) -> Code {
        Code { wire, ..self }
    }

    const fn retry(self, retry: Retry) -> Code {
        Code { retry, ..self }
    }

    /// The errmsg a server answers for this code (before any detail and the request id).
    pub fn errmsg(&self) -> &'static str {
        if self.wire.is_empty() { self.zh } else { self.wire }
    }

    /// The hint a script sees: the documents' text, the meaning, and what the client already
    /// did about it (derived from the retry column, never restated in the English text).
    pub fn hint(&self) -> String {
        let done = match self.retry {
            Retry::Never => "",
            Retry::Backoff => " (retried automatically with back-off)",
            Retry::Refresh => " (the token is refreshed automatically, once)",
        };
        format!("{} / {}{done}", self.zh, self.en)
    }
}

/// Documented error codes: the code, the documents' Chinese text, an English explanation, the
/// errmsg on the wire where it differs, and the retry policy.
pub const ERROR_CODES: &[Code] = &[
    code(-1, "系统错误/系统繁忙", "system error or busy: if it persists, try again later").wire("system error").retry(Retry::Backoff),
    code(40001, "access_token 无效或不是最新", "access token invalid or not the latest").wire("invalid credential, access_token is invalid or not latest").retry(Retry::Refresh),
    code(40013, "不合法的 AppID", "invalid appid: check WECHAT_APPID").wire("invalid appid"),
    code(40014, "不合法的 access_token", "invalid access token").wire("invalid access_token").retry(Retry::Refresh),
    code(40097, "输入参数有误", "invalid arguments: check the request fields against the documentation").wire("invalid args"),
    code(40125, "不合法的 AppSecret", "invalid appsecret: check WECHAT_APPSECRET").wire("invalid appsecret"),
    code(40164, "调用接口的 IP 不在白名单中", "caller IP not in the whitelist: add it in the admin console"),
    code(40002, "不合法的凭证类型", "invalid grant_type: the token call takes client_credential").wire("invalid grant_type"),
    code(40066, "不合法的 URL", "no such API path").wire("invalid url"),
    code(43001, "需要 GET 请求", "this API takes GET").wire("require GET method"),
    code(43002, "需要 POST 请求", "this API takes POST").wire("require POST method"),
    code(40004, "不合法的媒体文件类型", "invalid media type: image, voice, video or thumb").wire("invalid media type"),
    code(40005, "不合法的文件类型", "invalid file type: the content is not of the type given (jpg/png/gif/bmp for image, amr/mp3 for voice, mp4 for video, jpg for thumb)").wire("invalid file type"),
    code(40006, "不合法的文件大小", "invalid file size: image and video up to 10 MB, voice 2 MB, thumb 64 KB").wire("invalid meida size"),
    code(40007, "不合法的媒体文件 id", "invalid media id").wire("invalid media_id"),
    code(40009, "不合法的图片文件大小", "invalid image size: media::upload_image takes jpg/png under 1 MB").wire("invalid image size"),
    code(41005, "缺少多媒体文件数据", "the upload carries no file (multipart field media)").wire("media data missing"),
    code(41001, "缺少 access_token 参数", "access token missing").wire("access_token missing"),
    code(42001, "access_token 超时", "access token expired").wire("access_token expired").retry(Retry::Refresh),
    code(43104, "没有权限", "no permission: the account lacks the store mini-program permission"),
    code(44002, "POST 的数据包为空", "empty POST body").wire("empty post data"),
    code(45009, "接口调用超过限制", "API call quota exceeded: reduce the rate (--qps)").wire("api freq out of limit").retry(Retry::Backoff),
    code(47001, "解析 JSON/XML 内容错误", "malformed JSON or XML body").wire("data format error"),
    code(48001, "api 功能未授权", "API not authorised for this account").wire("api unauthorized"),
    // The third-party platform (开放平台): component and authorizer calls.
    code(61003, "该公众号未授权给第三方平台", "this account has not authorised the platform (or revoked it): the merchant must authorise again").wire("component is not authorized by this account"),
    code(61004, "访问 IP 不在白名单中", "the calling IP is not in the platform's whitelist: add it in the open-platform console").wire("access clientip is not registered"),
    code(61005, "component_verify_ticket 已过期", "the component_verify_ticket has expired (12 h): run the platform listener so a fresh one is stored").wire("component ticket is expired"),
    code(61006, "component_verify_ticket 无效", "invalid component_verify_ticket: use the latest one pushed to the platform listener").wire("component ticket is invalid"),
    code(61009, "授权码无效", "invalid authorization code: take it from the latest authorisation").wire("code is invalid"),
    code(61010, "授权码已过期", "the authorization code has expired: the merchant must authorise again").wire("code is expired"),
    code(61023, "authorizer_refresh_token 无效", "the authorizer's refresh token is invalid (revoked, or replaced by a newer one): restore the latest from the store or a `platform export`, else the merchant must authorise again").wire("refresh_token is invalid"),
    code(65115, "门店不存在", "store does not exist: check the poi_id (store::all() lists them)"),
    code(65118, "该门店状态不允许更新", "the store's status does not allow updates (e.g. still in audit)"),
    code(85024, "你申请的名称需要补充相应资料进行审核, 此时请求参数org_code和other_files需要填写", "this name needs supporting documents: fill org_code and other_files"),
    code(85025, "管理员手机登记数量已超过上限,不能使用该主体开通门店", "the administrator's phone number is registered too many times"),
    code(85026, "该微信号已绑定5个管理员,请使用另一个微信号完成信息登记", "this WeChat account already administers 5 merchants: use another"),
    code(85027, "管理员身份证已登记过5次,请使用另一个身份证完成用户信息登记", "the administrator's ID card is registered 5 times: use another"),
    code(85028, "该主体登记数量已超过上限,不能使用该主体开通门店", "this entity has reached its registration limit"),
    code(85029, "商家名称已被占用,请换一个重试", "merchant name already taken: choose another nickname"),
    code(85030, "名称长度为4-30个字符(一个中文占两个字符),不能含有特殊字符及“微信”等保留字", "nickname must be 4-30 chars (CJK counts 2), without special characters or reserved words such as 微信"),
    code(85031, "不能使用该名称", "this name cannot be used"),
    code(85032, "该名称在侵权投诉保护期,暂不支持申请,请重新提交一个新的名称", "name under infringement-complaint protection: choose another"),
    code(85033, "名称不能包含违反公众平台协议、相关法律法规和政策的内容,不得使用“微信”等保留字", "name contains forbidden content or a reserved word such as 微信"),
    code(85034, "商家名称在改名15天保护期内,请换一个重试。", "name is in its 15-day rename protection period: choose another"),
    code(85035, "需与该账号相同主体才可申请", "must be the same legal entity as the official account"),
    code(85036, "介绍中不得含有虚假的、冒充、利用他人名义的、容易构成混淆、误认的、法律、法规和政策禁止的内容", "intro contains misleading or forbidden content"),
    code(85038, "请勿添加重复门店", "duplicate store: a store for this map_poi_id already exists (store::all() lists them)"),
    code(85039, "此门店状态不能被获取信息", "this store's status does not allow reading it"),
    code(85040, "此门店已被绑定,无需重复绑定", "this store is already bound (already migrated)"),
    code(85041, "该经营资质已添加,请勿重复添加。", "this business credential was already added"),
    code(85042, "附近地点添加数量达到上线,无法继续添加。", "the limit of nearby places is reached"),
    code(85049, "头像或者简介修改达到每个月上限", "monthly limit for avatar or intro changes reached"),
    code(85050, "正在审核中,请勿重复提交", "an application is already in review: wait for its result (merchant::audit_info())"),
    code(85053, "请先成功创建门店后再调用", "create the store mini-program (merchant::apply) and wait for approval first"),
    code(85054, "由于门店小程序还没升级成功,需要添写poi_id进行门店迁移", "the account is not fully upgraded: migrate this legacy store by giving its poi_id"),
    code(85055, "map_poi_id 无效", "invalid map_poi_id: take sosomap_poi_uid from map::search_poi"),
    code(85056, "临时mediaid无效", "invalid or expired temporary media id: upload again with media::upload"),
    // Shake-around (摇一摇周边). 9001040 and up are the sandbox's own codes for refusals the
    // documents give no code for; scripts should test `e.kind` and the errmsg, not these numbers.
    code(9001001, "POST数据参数不合法", "invalid POST parameters"),
    code(9001002, "远端服务不可用", "remote service unavailable: try again later"),
    code(9001003, "Ticket不合法", "invalid or expired ticket: a shake ticket is valid for 30 minutes"),
    code(9001004, "获取摇周边用户信息失败", "could not read the shaking user's information"),
    code(9001005, "获取商户信息失败", "could not read the merchant's information"),
    code(9001006, "获取OpenID失败", "could not read the user's openid"),
    code(9001007, "上传文件缺失", "the upload carries no file (multipart field media)"),
    code(9001008, "上传素材的文件类型不合法", "file type not allowed for this material: jpg, png or gif"),
    code(9001009, "上传素材的文件尺寸不合法", "file size or dimensions not allowed: icon square, <=200x200 px; license <=2 MB"),
    code(9001010, "上传失败", "upload failed: try again"),
    code(9001020, "帐号不合法", "account not enabled for shake-around: shake::register and wait for approval (shake::audit_status())"),
    code(9001021, "已有设备激活率低于50%,不能新增设备", "fewer than half of the existing devices are activated: activate them before applying for more"),
    code(9001022, "设备申请数不合法,必须为大于0的数字", "quantity must be a number greater than 0"),
    code(9001023, "已存在审核中的设备ID申请", "a device id application is already in review"),
    code(9001024, "一次查询设备ID数量不能超过50", "at most 50 devices per search"),
    code(9001025, "设备ID不合法", "unknown device: check device_id or uuid/major/minor (shake::all_devices())"),
    code(9001026, "页面ID不合法", "unknown page: check page_id (shake::all_pages())"),
    code(9001027, "页面参数不合法", "invalid page fields: icon_url must come from shake::upload_material(path, \"icon\")"),
    code(9001028, "一次删除页面ID数量不能超过10", "at most 10 pages per delete"),
    code(9001029, "页面已应用在设备中,请先解除应用关系再删除", "the page is bound to devices: unbind it (shake::bind_pages) before deleting"),
    code(9001030, "一次查询页面ID数量不能超过50", "at most 50 pages per search"),
    code(9001031, "时间区间不合法", "invalid date range: at most 30 days, within the last 90 (UTC+8)"),
    code(9001032, "保存设备与页面的绑定关系参数错误", "invalid device-page binding: at most 30 existing pages per device"),
    code(9001033, "门店ID不合法", "unknown store: poi_id must be one of the account's stores (store::all(), poi::list()) or 0"),
    code(9001034, "设备备注信息过长", "device comment too long: at most 15 CJK / 30 Latin characters"),
    code(9001035, "设备申请参数不合法", "invalid device id application parameters (e.g. an unknown apply_id)"),
    code(9001036, "查询起始值begin不合法", "invalid begin: it must not exceed the number of items"),
    code(9001040, "申请正在审核中,请勿重复提交", "an application is already in review: wait for shake::audit_status() (sandbox code)"),
    code(9001041, "已开通摇一摇周边,无需重复申请", "shake-around is already enabled for this account (sandbox code)"),
    code(9001042, "设备ID数量已达上限", "device id quota reached: an account holds at most 10,000 ids; mail zhoubian@tencent.com to raise it (sandbox code)"),
    code(9001043, "分组不存在", "unknown device group: check group_id (shake::all_groups()) (sandbox code)"),
    code(9001044, "分组内还有设备,不能删除", "the group still holds devices: remove them (shake::remove_group_devices) first (sandbox code)"),
    code(9001045, "分组数量或分组内设备数量已达上限", "group limit reached: 1,000 groups per account, 10,000 devices per group (sandbox code)"),
    code(9001046, "抽奖活动不存在", "unknown lottery: check lottery_id (sandbox code)"),
    code(9001047, "抽奖活动参数不合法", "invalid lottery fields, e.g. expire_time not after begin_time or a full prize bucket (sandbox code)"),
];

/// A documented error code's row.
pub fn lookup(errcode: i64) -> Option<&'static Code> {
    ERROR_CODES.iter().find(|c| c.code == errcode)
}

/// The hint for a documented error code.
pub fn hint(errcode: i64) -> Option<String> {
    lookup(errcode).map(Code::hint)
}

/// What the client does after `errcode` (`Never` for codes the table does not know).
pub fn retry(errcode: i64) -> Retry {
    lookup(errcode).map_or(Retry::Never, |c| c.retry)
}

/// The errmsg a server answers for `errcode`, with `detail` after a colon when there is one.
pub fn errmsg(errcode: i64, detail: &str) -> String {
    let base = lookup(errcode).map_or("error", |c| c.errmsg());
    if detail.is_empty() { base.to_string() } else { format!("{base}: {detail}") }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_declared_error_code_has_a_hint() {
        for ep in crate::api::all_declared() {
            for code in ep.errors {
                assert!(super::hint(*code).is_some(), "{}: errcode {code} has no hint", ep.qualified());
            }
        }
    }
}
